/**
 * `shell`: run a command. Without `shell:` no shell is started: the command line is split into words from its
 * literal text (words.ts) and each value goes into one word whole. With `shell: bash` or `sh`, the line is a
 * script and its values reach it as environment variables (script.ts); a step's output may not be part of it at
 * all. The program runs in a process group of its own, stopped as a whole on a timeout or a cancel (process.ts).
 * Output: stdout as text; `exitCode` and `stderr` are exposed.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { formatBytes } from '../../core/bytes.ts';
import { StepFailedError } from '../../core/errors.ts';
import { SECRET_ENV } from '../../core/redact.ts';
import { stringify } from '../../template/value.ts';
import { templated } from '../templated.ts';
import type { ActionContext, ActionDefinition, BlockProblem, StaticContext } from '../types.ts';
import { runProcess } from './process.ts';
import { programProblem } from './program.ts';
import { RESERVED_PREFIX, scriptSites, shellScript, type ShellName } from './script.ts';
import { lexCommand, literalProgram, splitCommand } from './words.ts';

const SHELLS = ['bash', 'sh'] as const;
/** The most stdout or stderr may hold unless `maxBytes` says otherwise: 10 MB, as for an HTTP answer. */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** How much of stderr's end a failure message shows (its last lines), and how much `errorDetail` keeps. */
const STDERR_LINES = 3;
const STDERR_PREVIEW = 300;
const STDERR_DETAIL = 64 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const word = z.union([z.string({ error: 'expected a word (a string)' }), z.number(), z.boolean()]);

const schema = z
  .strictObject({
    run: z
      // The list first: a validation error names the first branch's expectation (see definition/zod-issues.ts).
      .union([
        z.array(word, { error: 'expected a command line (a string) or its words (a list of strings)' }).min(1, 'expected the program and its arguments (an empty list runs nothing)'),
        z.string().min(1, 'expected a command (an empty string runs nothing)'),
      ])
      .describe('The command: a line split into words without a shell (`git diff --stat ${inputs.base}`), or the program and its arguments as a list. Each value a reference gives is one argument, or part of one, never split or read as syntax.'),
    shell: z
      .enum(SHELLS, { error: `expected one of ${SHELLS.join(', ')}` })
      .optional()
      .describe('Run `run` as a script of this shell (pipes, globs, redirection). References in it reach the script as environment variables; a step\'s output may not be one: pass it with `env` or `stdin`.'),
    env: z
      .record(
        z.string().regex(ENV_NAME, 'expected a variable name (letters, digits and _, not starting with a digit)').refine((name) => !name.startsWith(RESERVED_PREFIX), `names starting with ${RESERVED_PREFIX} are Conductor's own`),
        z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: 'expected a value (a string; lists and maps are passed as JSON)' }),
        { error: 'expected a map of variable names to values' },
      )
      .optional()
      .describe('Environment variables added to the command\'s environment (lists and maps as JSON).'),
    stdin: z.unknown().optional().describe('Text written to the command\'s standard input (a value that is not a string, as JSON); without it the input is empty.'),
    cwd: z.string({ error: 'expected a folder (a string)' }).min(1, 'expected a folder').optional().describe('The folder the command runs in, relative to the workflow file (default: its folder).'),
    allowExitCodes: z
      .array(z.number().int('expected a whole number').min(0, 'expected an exit code from 0 to 255').max(255, 'expected an exit code from 0 to 255'), { error: 'expected a list of exit codes, e.g. [1]' })
      .optional()
      .describe('Exit codes besides 0 that do not fail the step (`grep` exits 1 when nothing matches).'),
    maxBytes: templated(z.number().int('expected a whole number of bytes').positive('expected a number of bytes greater than 0'))
      .optional()
      .describe('The most stdout or stderr may hold, in bytes (default 10485760, 10 MB); more fails the step and stops the command.'),
  })
  .superRefine((block, ctx) => {
    if (block.shell !== undefined && Array.isArray(block.run)) {
      ctx.addIssue({ code: 'custom', path: ['run'], message: `\`shell: ${block.shell}\` runs a command line: write \`run\` as one string` });
    }
  });

export interface ShellInput {
  run: string | (string | number | boolean)[];
  shell?: ShellName;
  env?: Record<string, unknown>;
  stdin?: unknown;
  cwd?: string;
  allowExitCodes?: number[];
  maxBytes?: number;
}

export const shellAction: ActionDefinition<ShellInput> = {
  name: 'shell',
  description: 'Run a command (no shell unless `shell: bash|sh`); output is its stdout, also exitCode and stderr.',
  schema: schema as unknown as z.ZodType<ShellInput>,
  exposes: ['exitCode', 'stderr'],
  version: 1,
  keepsParts: ['run'],
  // A folder a step's output chooses is confined by the engine (scheduler/confine.ts). Running a command may
  // change anything in its folder, so it counts as a change (no `changes`): not the workflow's folder itself.
  destinations: { cwd: 'path' },
  calls: [{ kind: 'commands', noun: 'command' }],
  // A command worth a step (a build, a converter, a script) takes a second or more, and starting one costs
  // milliseconds: between an API call (300) and a model's answer (3000). Only the ratios matter.
  typicalMs: 1000,
  // An exit is seldom transient, and running a command again may repeat what it did.
  retriesWhenAsked: true,
  describe: (input) => `shell: ${programOf(input)}`,
  // A variable whose name says it is a credential (`API_TOKEN: …`) is one, wherever its value turns up.
  secrets: (input) => Object.entries(input.env ?? {}).flatMap(([name, value]) => (SECRET_ENV.test(name) && typeof value === 'string' ? [value] : [])),
  check: checkBlock,
  preflight(block, ctx) {
    // The step's own `env.PATH`, when it sets one, is where its program is looked up; one a reference gives (or
    // an `env` that is one reference as a whole) cannot be told before the run.
    let pathVar: unknown = ctx.env['PATH'];
    const env = block['env'];
    if (env !== null && typeof env === 'object') {
      if ('PATH' in env) pathVar = (env as Record<string, unknown>)['PATH'];
    } else if ('env' in block) {
      if (!ctx.literal || ctx.written?.(['env']) || ctx.written?.(['env', 'PATH'])) return undefined;
      const own = ctx.literal(['env', 'PATH']);
      if (own !== undefined) pathVar = own;
    }
    if (typeof pathVar !== 'string' && pathVar !== undefined) return undefined;
    const shell = block['shell'];
    if (shell === 'bash' || shell === 'sh') {
      const problem = programProblem(shell, pathVar);
      return problem && { message: `${problem.message} (the step's \`shell\`)`, hint: shell === 'bash' ? 'install bash, or use `shell: sh`' : problem.hint };
    }
    if (shell !== undefined || 'shell' in block) return undefined;
    const run = block['run'];
    let program: string | undefined;
    if (Array.isArray(run)) program = typeof run[0] === 'string' ? run[0] : undefined;
    else if (typeof run === 'string') program = literalProgram([run]);
    else {
      // A list with a reference in one of its words: its program, when written literally.
      const first = ctx.literal?.(['run', 0]);
      if (typeof first === 'string') program = first;
      else {
        const written = ctx.written?.('run');
        if (written) program = literalProgram(written.strings);
      }
    }
    if (!program) return undefined;
    // A relative path resolves against `cwd`, itself relative to the workflow's folder, when both are known.
    const cwd = block['cwd'] ?? ('cwd' in block ? undefined : '.');
    const folder = typeof cwd === 'string' ? (cwd.startsWith('/') ? cwd : ctx.baseDir === undefined ? undefined : resolve(ctx.baseDir, cwd)) : undefined;
    return programProblem(program, pathVar, folder);
  },
  async run(input, ctx) {
    const what = `shell: ${programOf(input)}`;
    const fail = (code: string, message: string, options: { hint?: string; retryable?: boolean; detail?: string; cause?: unknown } = {}) =>
      new StepFailedError(ctx.stepId, code, `${what}: ${message}`, options);
    const { argv, vars } = command(input, ctx, (message) => fail('invalid_input', message));
    if (argv.length === 0 || argv[0] === '') throw fail('invalid_input', 'the command is empty', { hint: 'a value gave no program: check what the reference holds' });
    const cwd = resolve(ctx.baseDir, input.cwd ?? '.');
    const folder = await stat(cwd).catch(() => undefined);
    if (!folder?.isDirectory()) throw fail('shell_bad_cwd', `\`cwd\` ${cwd} is not a folder`, { hint: '`cwd` is relative to the workflow file\'s folder; create it in an earlier step, or fix the path' });
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.env)) if (value !== undefined) env[name] = value;
    for (const [name, value] of Object.entries(input.env ?? {})) env[name] = stringify(value);
    Object.assign(env, vars);
    const maxBytes = input.maxBytes ?? DEFAULT_MAX_BYTES;
    const stdin = input.stdin === undefined ? undefined : typeof input.stdin === 'string' ? input.stdin : JSON.stringify(input.stdin);

    const end = await runProcess({ argv, cwd, env, stdin, maxBytes, signal: ctx.signal });
    switch (end.kind) {
      case 'aborted':
        throw ctx.signal.reason ?? new Error('aborted');
      case 'too_large':
        throw fail('output_too_large', `wrote more than ${formatBytes(maxBytes)} to ${end.stream}; the command was stopped`, {
          hint: 'raise `maxBytes` on the shell block (bytes; default 10 MB), or write the output to a file and read what you need',
        });
      case 'spawn_failed':
        throw spawnFailure(end.error, argv[0]!, fail);
      case 'signalled': {
        const stderr = end.stderr.toString('utf8');
        throw fail('command_failed', `killed by ${end.signal}${tail(stderr)}`, { retryable: true, ...detail(stderr) });
      }
      case 'exited': {
        const stderr = end.stderr.toString('utf8');
        if (end.code !== 0 && !input.allowExitCodes?.includes(end.code)) {
          throw fail('command_failed', `exited with code ${end.code}${tail(stderr)}`, {
            retryable: true,
            ...detail(stderr),
            ...(stderr.trim() ? {} : { hint: 'the command wrote nothing to stderr; if that exit is expected, list it in `allowExitCodes`' }),
          });
        }
        return { output: trimNewline(end.stdout.toString('utf8')), properties: { exitCode: end.code, stderr: trimNewline(stderr) } };
      }
    }
  },
};

/** The program and arguments to start, and the variables that carry a script's values. */
function command(input: ShellInput, ctx: ActionContext, invalid: (message: string) => Error): { argv: string[]; vars: Record<string, string> } {
  if (Array.isArray(input.run)) return { argv: input.run.map(String), vars: {} };
  const parts = ctx.parts?.('run') ?? { strings: [input.run], values: [] };
  if (input.shell) {
    try {
      const { script, vars } = shellScript(parts.strings, parts.values, input.shell);
      return { argv: [input.shell, '-c', script], vars };
    } catch (error) {
      throw invalid((error as Error).message);
    }
  }
  try {
    return { argv: splitCommand(parts.strings, parts.values), vars: {} };
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

function spawnFailure(error: NodeJS.ErrnoException, program: string, fail: (code: string, message: string, options?: { hint?: string; cause?: unknown }) => StepFailedError): StepFailedError {
  switch (error.code) {
    case 'ENOENT':
      return program.includes('/')
        ? fail('command_not_found', `no program at \`${program}\``, { hint: 'relative paths start from the step\'s `cwd` (by default the workflow\'s folder); a script\'s `#!` line must name an interpreter that exists', cause: error })
        : fail('command_not_found', `program \`${program}\` not found on PATH`, { hint: 'install it, or give its path', cause: error });
    case 'EACCES':
      return fail('command_not_executable', `\`${program}\` is not executable`, { hint: 'make it executable (`chmod +x`), or run it with its interpreter (`run: [python3, script.py]`)', cause: error });
    case 'ERR_INVALID_ARG_VALUE':
    case 'ERR_INVALID_ARG_TYPE':
      return fail('invalid_input', 'a value holds a NUL character, which no argument or variable can carry', { cause: error });
    default:
      return fail('command_failed', `could not start: ${error.message}`, { cause: error });
  }
}

/** The program, for messages: the first word only (a later one may be a value that should not be shown). */
function programOf(input: ShellInput): string {
  if (Array.isArray(input.run)) return `${String(input.run[0])}${input.run.length > 1 ? ' …' : ''}`;
  const words = input.run.trim().split(/\s+/);
  // In a script, leading `NAME=value` words set variables: show the command after them.
  let i = 0;
  if (input.shell) while (i < words.length - 1 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  const first = (words[i] ?? '').replace(/^['"]|['"]$/g, '');
  const shown = first.length > 60 ? `${first.slice(0, 60)}…` : first;
  return `${i > 0 ? '… ' : ''}${shown}${i < words.length - 1 ? ' …' : ''}`;
}

/** `: ` and the last lines of stderr, bounded, for a one-line message. */
function tail(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-STDERR_LINES);
  if (!lines.length) return '';
  let text = lines.join(' ⏎ ');
  if (text.length > STDERR_PREVIEW) text = `…${text.slice(-STDERR_PREVIEW)}`;
  return `: ${text}`;
}

function detail(stderr: string): { detail?: string } {
  if (!stderr.trim()) return {};
  return { detail: stderr.length > STDERR_DETAIL ? `…${stderr.slice(-STDERR_DETAIL)}` : stderr };
}

/** One trailing newline off, as `$(…)` takes them (but only one: the rest is the command's). */
function trimNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** Checks of a block as written: what a step's output may not become, and text that cannot be split. */
function checkBlock(block: Readonly<Record<string, unknown>>, ctx: StaticContext): BlockProblem[] {
  const run = block['run'];
  const shell = block['shell'];
  const programHint = 'a model may not choose what runs: write the program in the workflow, and pass the output as an argument (`run: [tool, "${steps.x.output}"]`)';
  if (Array.isArray(run)) {
    return run.length && ctx.known(run[0]) === 'run'
      ? [{ path: ['run', 0], code: 'shell_program_from_output', message: 'the program to run may not come from a step\'s output', hint: programHint }]
      : [];
  }
  if (typeof run !== 'string') return [];
  const written = ctx.written(run);
  const strings = written?.strings ?? [run.replaceAll('$${', '${')];
  const refs = written?.refs ?? [];
  if (shell === 'bash' || shell === 'sh') {
    const problems: BlockProblem[] = [];
    const output = refs.find((r) => r.known === 'run');
    if (output) {
      problems.push({
        path: ['run'],
        ...(output.offset === undefined ? {} : { offset: output.offset }),
        code: 'shell_step_output',
        message: `a step's output (\`${output.raw}\`) may not be part of a command line a shell reads`,
        hint: 'pass it through `env` or `stdin`, e.g. `env: { X: "${steps.a.output}" }`, then write "$X" in `run`',
      });
    }
    const place = scriptSites(strings, shell as ShellName).problems[0];
    const placed = place ? refs[place.index]?.offset : undefined;
    if (place) problems.push({ path: ['run'], ...(placed === undefined ? {} : { offset: placed }), code: 'shell_reference_place', message: `\`${refs[place.index]?.raw ?? 'a reference'}\`: ${place.message}`, hint: 'pass the value with `env` and use the variable where the shell should see it' });
    return problems;
  }
  if (shell !== undefined) return [];
  const lexed = lexCommand(strings);
  if (lexed.problem) return [{ path: ['run'], code: 'shell_bad_quote', message: `cannot split the command line: ${lexed.problem}`, hint: 'close the quote, or write `run` as a list of words' }];
  const problems: BlockProblem[] = [];
  const first = lexed.words[0];
  const fromOutput = first?.parts.find((p) => typeof p === 'number' && refs[p]?.known === 'run');
  if (fromOutput !== undefined) {
    const ref = refs[fromOutput as number]!;
    problems.push({ path: ['run'], ...(ref.offset === undefined ? {} : { offset: ref.offset }), code: 'shell_program_from_output', message: `the program to run may not come from a step's output (\`${ref.raw}\`)`, hint: programHint });
  }
  if (lexed.shellSyntax) {
    problems.push({
      path: ['run'],
      code: 'shell_syntax',
      message:
        lexed.shellSyntax === '\n'
          ? '`run` holds several lines, but starts no shell to run them one by one: they would be one command\'s arguments'
          : `\`${lexed.shellSyntax}\` would be passed to the program as text: \`run\` starts no shell`,
      hint: 'add `shell: bash` for pipes, redirection and variables, quote it to mean the text, or use `${env.NAME}` for a variable',
    });
  }
  return problems;
}
