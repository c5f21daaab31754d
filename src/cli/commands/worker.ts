import { SetupError, UsageError } from '../../core/errors.ts';
import { queueWorker } from '../../compose.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { QUEUE_OPTION, queueFrom } from '../queue-options.ts';
import { openStore } from '../execute.ts';

export const workerCommand: Command = {
  usage: 'conductor worker --queue redis://… [--store PATH|postgres://…] [--concurrency N] [--env NAME,…]',
  options: {
    queue: { ...QUEUE_OPTION, description: 'The Redis to take steps from (also CONDUCTOR_QUEUE)' },
    store: { type: 'string', value: 'PATH|URL', description: 'The run store the runs record into, where results are fenced (default: as `run`; also CONDUCTOR_STORE)' },
    concurrency: { type: 'string', value: 'N', description: 'Steps at once on this worker (default 50)' },
    env: { type: 'string', value: 'NAME,…', description: "The variables steps' ${env.*} may read here (default: none; also CONDUCTOR_WORKER_ENV). Provider keys need not be listed" },
  },
  async run({ values }, io) {
    const location = queueFrom(values, io.env);
    if (!location) throw new UsageError('`conductor worker` needs a queue: --queue redis://… (or CONDUCTOR_QUEUE)');
    const concurrency = parseConcurrency(values['concurrency'] as string | undefined);
    const lockMs = testLockMs(io.env);
    const allowEnv = envNames((values['env'] as string | undefined) ?? io.env['CONDUCTOR_WORKER_ENV']);
    const store = await openStore(values, io);
    const log = (line: string) => io.stderr.write(`${line}\n`);
    let worker;
    try {
      worker = await queueWorker({ location, store, allowEnv, env: io.env, log, ...(concurrency ? { concurrency } : {}), ...(lockMs ? { lockMs } : {}) });
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    log(`worker ${worker.name} takes steps from ${location.shown} (concurrency ${concurrency ?? 50}); Ctrl-C stops it after the steps it holds`);
    if (!location.key) log('jobs are not signed: any job written into this Redis runs here; set CONDUCTOR_QUEUE_KEY (the same for runs and workers) to refuse the rest');
    // The first Ctrl-C (or SIGTERM) lets the steps in flight finish and takes no more; a second leaves at once,
    // and another worker takes what was in flight when its lock runs out.
    await new Promise<void>((resolve) => (io.signal.aborted ? resolve() : io.signal.addEventListener('abort', () => resolve(), { once: true })));
    log('stopping: finishing the steps in flight (Ctrl-C again to leave now)');
    await worker.close();
    await store.close().catch(() => {});
    return EXIT.ok;
  },
};

/** `--env A,B`: the names, each a variable's name (a typo is exit 2, not a variable no step can read). */
function envNames(text: string | undefined): Set<string> {
  const names = new Set<string>();
  for (const name of (text ?? '').split(',').map((n) => n.trim()).filter(Boolean)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`\`--env\` expects variable names separated by commas, got \`${name.slice(0, 80)}\``);
    names.add(name);
  }
  return names;
}

function parseConcurrency(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`\`--concurrency\` expects an integer from 1 to 10000, got \`${text}\``);
  return n;
}

/** For tests only, not a setting: `CONDUCTOR_WORKER_LOCK_MS` shortens job locks so a killed worker's jobs move on in seconds. */
function testLockMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const text = env['CONDUCTOR_WORKER_LOCK_MS'];
  if (!text) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 500) throw new SetupError('usage', `CONDUCTOR_WORKER_LOCK_MS expects milliseconds ≥ 500, got \`${text}\``);
  return ms;
}
