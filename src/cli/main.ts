/**
 * The command line: parses arguments, dispatches to a command, and turns errors into exit codes and one
 * readable message. The only module that knows about process exit codes; commands load lazily so
 * `conductor --version` stays fast.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionDescriptor } from 'node:util';
import { ConductorError, SetupError, UsageError, WorkflowInvalidError } from '../core/errors.ts';
import { displayPath, formatDiagnostics } from './diagnostics.ts';
import { docsFor, docsLink } from '../report/docs.ts';
import { EXIT, EXIT_MEANINGS, type CliIO } from './io.ts';
import { createStyle } from '../report/style.ts';

/** A command, loaded only when it is run (its one-line summary is in SUMMARIES, so `--help` loads none). */
export interface Command {
  usage: string;
  /** `value` names what a string option takes, for help (`--store <PATH>`). */
  options: Record<string, ParseArgsOptionDescriptor & { description: string; value?: string }>;
  /** The TypeScript types its JSON output is (`file#Type`), quoted in docs/cli.md; every command with `--json` or `--format` says. */
  jsonShape?: readonly string[];
  run(args: { values: Record<string, unknown>; positionals: string[] }, io: CliIO): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run.ts')).runCommand,
  plan: async () => (await import('./commands/plan.ts')).planCommand,
  validate: async () => (await import('./commands/validate.ts')).validateCommand,
  schema: async () => (await import('./commands/schema.ts')).schemaCommand,
  runs: async () => (await import('./commands/runs.ts')).runsCommand,
  resume: async () => (await import('./commands/resume.ts')).resumeCommand,
  cache: async () => (await import('./commands/cache.ts')).cacheCommand,
  worker: async () => (await import('./commands/worker.ts')).workerCommand,
  serve: async () => (await import('./commands/serve.ts')).serveCommand,
};

export const SUMMARIES: Record<string, string> = {
  run: 'Run a workflow: steps start as soon as what they use is ready',
  plan: 'Show what a workflow will do (stages, dependencies and why, critical path) and how long it should take, without running it',
  validate: 'Check a workflow and report every problem, without running anything',
  schema: 'Print the workflow JSON Schema (for editors)',
  runs: 'List recorded runs, or show one (`runs show <id>`)',
  resume: 'Finish a failed, cancelled or interrupted run without re-running what succeeded',
  cache: 'Show what the step cache holds and saved (`cache stats`), or empty it (`cache clear`)',
  worker: 'Take steps from a queue (`--queue redis://…`) and run them: runs started with the same `--queue` spread over workers',
  serve: 'Serve workflows, plans and recorded runs over an HTTP API (127.0.0.1 by default; CONDUCTOR_SERVE_TOKEN for any other address)',
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(cwd: string): string {
  const width = Math.max(...Object.keys(SUMMARIES).map((c) => c.length));
  return [
    'Conductor: workflows for LLM pipelines. Steps run in parallel unless one uses another\'s output.',
    '',
    'Usage: conductor <command> [options]',
    '',
    'Commands:',
    ...Object.entries(SUMMARIES).map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    'Options:',
    '  -h, --help       Show help (also: conductor <command> --help)',
    '  -V, --version    Print the version',
    '      --debug      Show stack traces for errors',
    '',
    'Exit codes:',
    ...Object.entries(EXIT_MEANINGS).map(([code, meaning]) => `  ${code.padEnd(4)} ${meaning.replaceAll('`', '')}`),
    '',
    `Docs: ${docsLink('README.md', cwd)} (start there), ${docsLink('docs/cli.md', cwd)} (every command, flag and variable)`,
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const debug = argv.includes('--debug');
  const style = createStyle(io.stderr, io.env);
  try {
    const [first, ...rest] = argv.filter((a) => a !== '--debug');
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic && COMMANDS[topic]) return printCommandHelp(topic, await COMMANDS[topic](), io);
      io.stdout.write(help(io.cwd));
      return first === undefined ? EXIT.invalid : EXIT.ok;
    }
    if (first === '-V' || first === '--version') {
      io.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    const load = COMMANDS[first];
    if (!load) {
      const { didYouMean } = await import('../core/suggest.ts');
      throw new UsageError(`unknown command \`${first}\``, { hint: didYouMean(first, Object.keys(COMMANDS)) ?? 'run `conductor --help` for the commands' });
    }
    const command = await load();
    if (rest.includes('-h') || rest.includes('--help')) return printCommandHelp(first, command, io);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), { hint: `usage: ${command.usage}` });
    }
    return await command.run(parsed as { values: Record<string, unknown>; positionals: string[] }, io);
  } catch (error) {
    return reportError(error, io, style, debug);
  }
}

function printCommandHelp(name: string, command: Command, io: CliIO): number {
  const lines = [`${SUMMARIES[name]}.`, '', `Usage: ${command.usage}`, '', 'Options:'];
  for (const [option, def] of Object.entries(command.options)) {
    const flag = `${def.short ? `-${def.short}, ` : '    '}--${option}${def.type === 'string' ? ` <${def.value ?? 'value'}>` : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${def.description}`);
  }
  lines.push('', `Docs: ${docsLink(`docs/cli.md#conductor-${name}`, io.cwd)}`);
  io.stdout.write(lines.join('\n') + '\n');
  return EXIT.ok;
}

/** One readable message and an exit code; the stack only with --debug. */
export function reportError(error: unknown, io: CliIO, style = createStyle(io.stderr, io.env), debug = false): number {
  if (error instanceof WorkflowInvalidError) {
    // Read each file once for the code frames; show paths relative to where the user is.
    const sources = new Map<string, string>();
    for (const d of error.diagnostics) {
      const shown = displayPath(d.file, io.cwd);
      if (sources.has(shown) || d.line === 0) continue;
      try {
        sources.set(shown, readFileSync(d.file, 'utf8'));
      } catch {
        // no code frame; the message still stands
      }
    }
    io.stderr.write(formatDiagnostics(error.diagnostics.map((d) => ({ ...d, file: displayPath(d.file, io.cwd) })), style, sources));
    if (debug) io.stderr.write(`${error.stack}\n`);
    return EXIT.invalid;
  }
  if (error instanceof ConductorError) {
    io.stderr.write(`${style.red('error')}: ${error.message}\n`);
    if (error.hint) io.stderr.write(`  ${style.cyan('hint')}: ${error.hint}\n`);
    const docs = docsFor(error.code);
    if (docs) io.stderr.write(`  ${style.cyan('docs')}: ${docsLink(docs, io.cwd)}\n`);
    if (debug) io.stderr.write(`${error.stack}\n`);
    return error instanceof SetupError ? EXIT.invalid : EXIT.failed;
  }
  io.stderr.write(`${style.red('internal error')}: ${(error as Error)?.message ?? String(error)}\n`);
  io.stderr.write(debug ? `${(error as Error)?.stack}\n` : '  this is a bug in Conductor; run again with --debug for the stack trace\n');
  return EXIT.failed;
}
