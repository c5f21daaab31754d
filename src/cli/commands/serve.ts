import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { defaultActions, runStore, stepExecutor } from '../../compose.ts';
import { isLoopback } from '../../server/hosts.ts';
import { storeLocation, storeOptions, storePath } from '../../store/home.ts';
import type { RunStore } from '../../store/types.ts';
import { STORE_DESCRIPTION } from '../execute.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { QUEUE_OPTION, queueFrom } from '../queue-options.ts';

const TOKEN_ENV = 'CONDUCTOR_SERVE_TOKEN';
/** How long connections may take to finish once the runs have ended and the streams were told to stop. */
const CLOSE_GRACE_MS = 2_000;

export const serveCommand: Command = {
  usage: 'conductor serve [--port 7070] [--host 127.0.0.1] [--root DIR] [--store PATH|URL] [--queue URL]',
  options: {
    port: { type: 'string', value: 'N', description: 'The port to listen on (default 7070; 0 picks a free one)' },
    host: { type: 'string', value: 'ADDRESS', description: `The address to bind (default 127.0.0.1); any other than loopback needs ${TOKEN_ENV}` },
    root: { type: 'string', value: 'DIR', description: 'The folder workflows are served from (default: the current folder); nothing outside it is read' },
    store: { type: 'string', value: 'PATH|URL', description: STORE_DESCRIPTION },
    queue: QUEUE_OPTION,
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument \`${positionals[0]}\``, { hint: `usage: ${this.usage}` });
    const port = parsePort(values['port'] as string | undefined);
    const host = (values['host'] as string | undefined) ?? '127.0.0.1';
    // An empty token is no token: it would let anyone in who sends `Bearer `.
    const token = io.env[TOKEN_ENV] || undefined;
    if (!isLoopback(host) && token === undefined) {
      throw new UsageError(`binding ${host} needs a token: anyone who can reach that address could read your workflows and runs`, {
        hint: `set ${TOKEN_ENV} to a long random value (clients send \`Authorization: Bearer <token>\`), or bind 127.0.0.1`,
      });
    }
    const root = resolve(io.cwd, (values['root'] as string | undefined) ?? '.');
    let isFolder = false;
    try {
      isFolder = statSync(root).isDirectory();
    } catch {
      // reported below
    }
    if (!isFolder) throw new UsageError(`\`--root ${values['root'] as string}\` is not a folder`, { hint: 'give the folder that holds your workflow files' });
    const location = storeLocation(io.env, io.cwd, values['store'] as string | undefined);
    // Loaded only now, so `conductor --help` never loads the HTTP stack.
    const { createApp } = await import('../../server/app.ts');
    const { RunManager } = await import('../../server/run-manager.ts');
    const { serve } = await import('@hono/node-server');
    // Workers (`--queue`): a Redis that does not answer stops here, before the server listens.
    const steps = await stepExecutor(queueFrom(values, io.env), { warn: (line) => io.stderr.write(`warning: ${line}\n`) });
    const actions = defaultActions();
    let runs: InstanceType<typeof RunManager> | undefined;
    // A store that fails (locked, disk full) stops the runs it was recording, as it stops `conductor run`.
    const warn = (line: string) => io.stderr.write(`warning: ${line}\n`);
    const store = lazyStore(location, io.env, (error) => {
      warn(`the run store failed (${error instanceof Error ? error.message : String(error)}): the runs recording into it were stopped; the next run opens it again`);
      return runs?.abortAll(error) ?? Promise.resolve();
    });
    runs = new RunManager({ store: store.get, executor: steps.executor, place: { env: io.env, cwd: io.cwd }, actions, warn });
    // Workflows posted as text are kept beside the default store ($CONDUCTOR_HOME), never under the root.
    const postedRoot = join(dirname(storePath(io.env, io.cwd)), 'posted');
    // Without a token, a loopback server answers only requests addressed to a loopback name (see hosts.ts).
    const closing = new AbortController();
    const app = createApp({ root, store: store.get, runs, postedRoot, actions, closing: closing.signal, ...(token === undefined ? { loopbackOnly: true } : { token }) });
    const server = await new Promise<ReturnType<typeof serve>>((done, fail) => {
      const started = serve({ fetch: app.fetch, port, hostname: host }, () => done(started));
      started.once('error', (error: NodeJS.ErrnoException) =>
        fail(
          error.code === 'EADDRINUSE'
            ? new UsageError(`port ${port} on ${host} is in use`, { hint: 'pick another with --port (0 picks a free one)' })
            : new UsageError(`cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { hint: 'check --host and --port' }),
        ),
      );
    });
    const address = server.address();
    const shown = typeof address === 'object' && address ? address.port : port;
    io.stderr.write(`conductor serve: http://${host.includes(':') ? `[${host}]` : host}:${shown} (root ${root})\n`);
    // Ctrl-C stops taking connections, cancels the runs in flight as `conductor run` would (each recorded as
    // cancelled: `resume` continues it), ends their event streams with them, and lets the store go once
    // everything is recorded; idle keep-alive connections are closed rather than waited for.
    await new Promise<void>((done) => (io.signal.aborted ? done() : io.signal.addEventListener('abort', () => done(), { once: true })));
    const closed = new Promise<void>((done) => server.close(() => done()));
    const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
    http.closeIdleConnections?.();
    await runs.close();
    // Every run has ended and is recorded: the streams that follow them are done; one whose client stopped
    // reading is ended here rather than waited for, and what is still open after a moment is cut.
    closing.abort();
    const cut = setTimeout(() => http.closeAllConnections?.(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(cut);
    await store.close();
    await steps.dispose();
    return EXIT.ok;
  },
};

function parsePort(text: string | undefined): number {
  if (text === undefined) return 7070;
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port > 65535) throw new UsageError(`\`--port\` expects a whole number from 0 to 65535, got \`${text}\``);
  return port;
}

/**
 * The store, opened at the first request that needs it and kept. One that cannot be opened is tried again at
 * the next request (the 503 says so). One that fails later (locked, full) is let go at once: the runs recording
 * into it are stopped (`onError`), and the next request opens it afresh rather than use one that writes nothing.
 */
function lazyStore(location: string, env: Readonly<Record<string, string | undefined>>, onError: (error: unknown) => Promise<void>): { get: () => Promise<RunStore>; close: () => Promise<void> } {
  let opening: Promise<RunStore> | undefined;
  const retired: Promise<void>[] = [];
  return {
    get() {
      if (opening) return opening;
      const current: Promise<RunStore> = runStore(location, {
        ...storeOptions(env),
        onError: (error) => {
          const stopped = onError(error);
          if (opening === current) {
            opening = undefined;
            // Closed once the runs it stopped have ended: each makes its last write (how it ended) first, as
            // `conductor run` does on a store that failed.
            retired.push(stopped.then(() => current).then((s) => s.close()).catch(() => {}));
          }
        },
      }).catch((error: unknown) => {
        if (opening === current) opening = undefined;
        throw error;
      });
      opening = current;
      return current;
    },
    async close() {
      const open = opening;
      opening = undefined;
      if (open) await open.then((s) => s.close()).catch(() => {});
      await Promise.all(retired);
    },
  };
}
