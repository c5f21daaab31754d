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
import type { ActionContext, ActionDefinition, BlockProblem, Known, ResolvedParts, StaticContext, WrittenParts } from '../types.ts';
import { CODE_VARIABLES, codePosition, literalWord, optionFromData, type WrittenWord } from './data.ts';
import { KILL_AFTER_MS, runProcess } from './process.ts';
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

// A number or a boolean is refused as written (check: YAML changed it), but may come from a reference, and so
// may a list, each of its items one argument.
const scalar = z.union([z.string({ error: 'expected a word (a string)' }), z.number(), z.boolean()]);
const word = z.union([scalar, z.array(scalar)]);

const schema = z
  .strictObject({
    run: z
      // The list first: a validation error names the first branch's expectation (see definition/zod-issues.ts).
      .union([
        z.array(word, { error: 'expected a command line (a string) or its words (a list of strings)' }).min(1, 'expected the program and its arguments (an empty list runs nothing)'),
        z.string().min(1, 'expected a command (an empty string runs nothing)'),
      ])
      .describe('The command: a line split into words without a shell (`git diff --stat ${inputs.base}`), or the program and its arguments as a list. Each value a reference gives is one argument, or part of one, never split or read as syntax.')
      .meta({ examples: ['git diff --stat ${inputs.base}'] }),
    shell: z
      .enum(SHELLS, { error: `expected one of ${SHELLS.join(', ')}` })
      .optional()
      .describe('Run `run` as a script of this shell (pipes, globs, redirection). References in it reach the script as environment variables; a step\'s output may not be one: pass it with `env` or `stdin`.')
      .meta({ examples: ['bash'] }),
    env: z
      .record(
        z.string().regex(ENV_NAME, 'expected a variable name (letters, digits and _, not starting with a digit)').refine((name) => !name.startsWith(RESERVED_PREFIX), `names starting with ${RESERVED_PREFIX} are Conductor's own`),
        z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: 'expected a value (a string; lists and maps are passed as JSON)' }),
        { error: 'expected a map of variable names to values' },
      )
      .optional()
      .describe('Environment variables added to the command\'s environment (lists and maps as JSON).')
      .meta({ examples: [{ REVIEW: '${steps.review.output}' }] }),
    stdin: z.unknown().optional().describe('Text written to the command\'s standard input (a value that is not a string, as JSON); without it the input is empty.').meta({ examples: ['${steps.draft.output}'] }),
    cwd: z.string({ error: 'expected a folder (a string)' }).min(1, 'expected a folder').optional().describe('The folder the command runs in, relative to the workflow file (default: its folder).').meta({ examples: ['repo'] }),
    allowExitCodes: z
      .array(z.number().int('expected a whole number').min(0, 'expected an exit code from 0 to 255').max(255, 'expected an exit code from 0 to 255'), { error: 'expected a list of exit codes, e.g. [1]' })
      .optional()
      .describe('Exit codes besides 0 that do not fail the step (`grep` exits 1 when nothing matches).')
      .meta({ examples: [[1]] }),
    maxBytes: templated(z.number().int('expected a whole number of bytes').positive('expected a number of bytes greater than 0'))
      .optional()
      .describe('The most stdout or stderr may hold, in bytes (default 10485760, 10 MB); more fails the step and stops the command.')
      .meta({ default: 10485760, examples: [1048576] }),
  })
  .superRefine((block, ctx) => {
    if (block.shell !== undefined && Array.isArray(block.run)) {
      ctx.addIssue({ code: 'custom', path: ['run'], message: `\`shell: ${block.shell}\` runs a command line: write \`run\` as one string` });
    }
  });

export interface ShellInput {
  run: string | (string | number | boolean | (string | number | boolean)[])[];
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
  // Stopping a command: SIGTERM to its group, SIGKILL 5 s later, and a moment for the group to be gone.
  stopGraceMs: KILL_AFTER_MS + 1000,
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
    let listForm = Array.isArray(run);
    if (Array.isArray(run)) program = typeof run[0] === 'string' ? run[0] : undefined;
    else if (typeof run === 'string') program = literalProgram([run]);
    else {
      // A list with a reference in one of its words: its program, when written literally.
      const first = ctx.literal?.(['run', 0]);
      if (typeof first === 'string') {
        program = first;
        listForm = true;
      }
      else {
        const written = ctx.written?.('run');
        if (written) program = literalProgram(written.strings);
      }
    }
    if (!program) return undefined;
    // A relative path is left to the run: an earlier step may make it (a script it writes, a binary it builds).
    const problem = programProblem(program, pathVar);
    if (problem && listForm && /\s/.test(program)) return { ...problem, hint: `in the list form each element is one argument: write \`[${program.trim().split(/\s+/).join(', ')}]\`` };
    return problem;
  },
  async run(input, ctx) {
    const what = `shell: ${programOf(input)}`;
    const fail = (code: string, message: string, options: { hint?: string; retryable?: boolean; detail?: string; cause?: unknown } = {}) =>
      new StepFailedError(ctx.stepId, code, `${what}: ${message}`, options);
    const { argv, vars } = command(input, ctx, (code, message, hint) => fail(code, message, hint ? { hint } : {}));
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
        const stdout = end.stdout.toString('utf8');
        throw fail('command_failed', `killed by ${end.signal}${tail(stderr || stdout)}`, { retryable: true, ...detail(stdout, stderr) });
      }
      case 'exited': {
        const stderr = end.stderr.toString('utf8');
        if (end.code !== 0 && !input.allowExitCodes?.includes(end.code)) {
          // Many tools (test runners, compilers, diff) say why on stdout: shown when stderr says nothing.
          const stdout = end.stdout.toString('utf8');
          const said = stderr.trim() ? stderr : stdout;
          throw fail('command_failed', `exited with code ${end.code}${signalNote(end.code)}${tail(said)}`, {
            retryable: true,
            ...detail(stdout, stderr),
            ...(said.trim() ? {} : { hint: 'the command wrote nothing to stderr or stdout; if that exit is expected, list it in `allowExitCodes`' }),
          });
        }
        return { output: trimNewline(end.stdout.toString('utf8')), properties: { exitCode: end.code, stderr: trimNewline(stderr) } };
      }
    }
  },
};

/** The program and arguments to start, and the variables that carry a script's values. */
function command(input: ShellInput, ctx: ActionContext, invalid: (code: 'invalid_input' | 'not_allowed', message: string, hint?: string) => Error): { argv: string[]; vars: Record<string, string> } {
  // The words as written, each a list of literal text and values (by index), and each value's text and origin.
  const words: WrittenWord[] = [];
  const values: string[] = [];
  const data: boolean[] = [];
  const from = (parts: ResolvedParts): WrittenWord => {
    const word: (string | number)[] = [];
    parts.strings.forEach((text, j) => {
      word.push(text);
      if (j < parts.values.length) {
        word.push(values.length);
        values.push(parts.values[j]!);
        data.push(parts.data[j]!);
      }
    });
    return word;
  };
  let argv: string[];
  if (Array.isArray(input.run)) {
    argv = [];
    input.run.forEach((element, k) => {
      const parts = ctx.parts?.(['run', k]);
      if (Array.isArray(element)) {
        // One reference to a list: each of its items is one argument (never split further).
        for (const item of element) {
          words.push([values.length]);
          values.push(stringify(item));
          data.push(parts?.data[0] ?? true);
          argv.push(stringify(item));
        }
        return;
      }
      words.push(parts ? from(parts) : [String(element)]);
      argv.push(String(element));
    });
  } else {
    const parts = ctx.parts?.('run');
    if (!parts) throw invalid('invalid_input', 'the command line cannot be split without its parts (the action was called outside the engine)');
    if (input.shell) {
      try {
        const { script, vars } = shellScript(parts.strings, parts.values, input.shell);
        return { argv: [input.shell, '-c', script], vars };
      } catch (error) {
        throw invalid('invalid_input', (error as Error).message);
      }
    }
    const lexed = lexCommand(parts.strings);
    if (lexed.problem) throw invalid('invalid_input', lexed.problem);
    for (const w of lexed.words) words.push(w.parts);
    parts.values.forEach((v, j) => {
      values.push(v);
      data.push(parts.data[j]!);
    });
    argv = splitCommand(parts.strings, parts.values);
  }
  const option = optionFromData(words, values, (j) => data[j] === true);
  if (option) {
    const shown = option.value.length > 40 ? `${option.value.slice(0, 40)}…` : option.value;
    throw invalid('not_allowed', `a step's output starts argument ${option.word} with \`-\` (\`${shown}\`): \`${argv[0]}\` would read it as an option`, 'write a literal `--` before it if the program takes one (`run: [git, diff, --, "${…}"]`), or put text before the value in the same word (`./${…}`, `--name=${…}`)');
  }
  return { argv, vars: {} };
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

/** `errorDetail`: the end of stderr, and of stdout when it wrote any (each bounded). */
function detail(stdout: string, stderr: string): { detail?: string } {
  const end = (text: string) => (text.length > STDERR_DETAIL ? `…${text.slice(-STDERR_DETAIL)}` : text);
  const parts = [...(stderr.trim() ? [stdout.trim() ? `stderr:\n${end(stderr)}` : end(stderr)] : []), ...(stdout.trim() ? [`stdout:\n${end(stdout)}`] : [])];
  return parts.length ? { detail: parts.join('\n') } : {};
}

/** What an exit code above 128 usually means: a shell's report of a program killed by a signal. */
function signalNote(code: number): string {
  const names: Record<number, string> = { 129: 'SIGHUP', 130: 'SIGINT', 134: 'SIGABRT', 137: 'SIGKILL', 139: 'SIGSEGV', 141: 'SIGPIPE', 143: 'SIGTERM' };
  return names[code] ? ` (${names[code]}: a program the command ran was killed by it)` : '';
}

/** One trailing newline off, as `$(…)` takes them (but only one: the rest is the command's). */
function trimNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** Checks of a block as written: what a step's output may not become, and text that cannot be split. */
function checkBlock(block: Readonly<Record<string, unknown>>, ctx: StaticContext): BlockProblem[] {
  const run = block['run'];
  const shell = block['shell'];
  const problems: BlockProblem[] = [...envProblems(block['env'], ctx)];
  if (typeof run === 'string' && (shell === 'bash' || shell === 'sh')) return [...problems, ...scriptProblems(run, shell, ctx)];
  if (shell !== undefined) return problems;
  // The command's words as written, each a list of literal text and references (indexes into `refs`).
  const words: WrittenWord[] = [];
  const refs: { raw: string; known: Known; path: (string | number)[]; offset?: number }[] = [];
  const add = (parts: WrittenParts, path: (string | number)[]) => {
    const base = refs.length;
    for (const r of parts.refs) refs.push({ raw: r.raw, known: r.known, path, ...(r.offset === undefined ? {} : { offset: r.offset }) });
    return (index: number) => base + index;
  };
  if (Array.isArray(run)) {
    run.forEach((element, k) => {
      if (typeof element !== 'string') {
        problems.push({ path: ['run', k], code: 'shell_word_not_text', message: `word ${k} of \`run\` is ${element === null ? 'null' : `the ${typeof element} ${JSON.stringify(element)}`}, not text: YAML read it (18.10 is read as the number 18.1, 0x10 as 16)`, hint: `quote it to pass it as written: "${String(element)}"` });
        words.push([String(element)]);
        return;
      }
      const written = ctx.written(element);
      if (!written) return void words.push([element.replaceAll('$${', '${')]);
      const at = add(written, ['run', k]);
      const word: (string | number)[] = [];
      written.strings.forEach((text, j) => {
        word.push(text);
        if (j < written.refs.length) word.push(at(j));
      });
      words.push(word);
    });
  } else if (typeof run === 'string') {
    const written = ctx.written(run);
    const strings = written?.strings ?? [run.replaceAll('$${', '${')];
    const at = written ? add(written, ['run']) : (index: number) => index;
    const lexed = lexCommand(strings);
    if (lexed.problem) return [...problems, { path: ['run'], code: 'shell_bad_quote', message: `cannot split the command line: ${lexed.problem}`, hint: 'close the quote, or write `run` as a list of words' }];
    if (lexed.words.length === 0) problems.push({ path: ['run'], code: 'shell_empty', message: '`run` holds no command (only blanks)', hint: 'write the program and its arguments' });
    for (const w of lexed.words) words.push(w.parts.map((p) => (typeof p === 'number' ? at(p) : p)));
    if (lexed.shellSyntax) {
      problems.push({
        path: ['run'],
        code: 'shell_syntax',
        message:
          lexed.shellSyntax === '\n'
            ? '`run` holds several lines, but starts no shell to run them one by one: they would be one command\'s arguments'
            : `\`${lexed.shellSyntax}\` would be passed to the program as text: \`run\` starts no shell`,
        hint: 'add `shell: bash` for pipes, redirection and variables, quote it in single quotes to mean the text, or use `${env.NAME}` for a variable',
      });
    }
    const assignment = literalWord(words[0]);
    if (assignment !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(assignment)) {
      const name = assignment.slice(0, assignment.indexOf('='));
      problems.push({ path: ['run'], code: 'shell_assignment', message: `\`${assignment}\` would be run as a program: \`run\` starts no shell to set variables`, hint: `set it with \`env: { ${name}: "…" }\`` });
    }
  } else return problems;
  const program = literalWord(words[0]);
  if (program === '') problems.push({ path: Array.isArray(run) ? ['run', 0] : ['run'], code: 'shell_empty', message: 'the program is empty', hint: 'write the program to run first' });
  // `./tool.sh` in a folder a model chose is a program the model chose.
  if (program !== undefined && program.includes('/') && !program.startsWith('/') && ctx.known(block['cwd']) === 'run') {
    problems.push({ path: ['cwd'], code: 'shell_output_as_code', message: `a step's output may not choose \`cwd\` when the program is a relative path (\`${program}\`): it would choose which program runs`, hint: 'give the program\'s path from the workflow\'s folder, or write `cwd` in the workflow' });
  }
  const code = codePosition(words, (r) => refs[r]!.known === 'run');
  if (code) {
    const ref = refs[(words[code.word]!.find((p) => typeof p === 'number' && refs[p]!.known === 'run') as number)]!;
    problems.push({
      path: ref.path,
      ...(ref.offset === undefined ? {} : { offset: ref.offset }),
      code: code.word === 0 ? 'shell_program_from_output' : 'shell_output_as_code',
      message: code.word === 0 ? `the program to run may not come from a step's output (\`${ref.raw}\`)` : `a step's output (\`${ref.raw}\`) may not be ${code.why}: it would run as code`,
      hint: code.word === 0 ? 'a model may not choose what runs: write the program in the workflow, and pass the output as an argument (`run: [tool, "${steps.x.output}"]`)' : 'pass it as data the program reads (`stdin`, a file it opens, an argument of a script written in the workflow), never as code',
    });
  }
  return problems;
}

/** `shell: bash|sh`: a step's output may not be in the script at all, nor a reference where a shell evaluates it. */
function scriptProblems(run: string, shell: ShellName, ctx: StaticContext): BlockProblem[] {
  const written = ctx.written(run);
  const strings = written?.strings ?? [run.replaceAll('$${', '${')];
  const refs = written?.refs ?? [];
  const problems: BlockProblem[] = [];
  const output = refs.find((r) => r.known === 'run');
  if (output) {
    const example = output.root === 'steps' ? output.raw : '${steps.a.output}';
    problems.push({
      path: ['run'],
      ...(output.offset === undefined ? {} : { offset: output.offset }),
      code: 'shell_step_output',
      message: `a step's output (\`${output.raw}\`) may not be part of a command line a shell reads`,
      hint: `pass it through \`env\` or \`stdin\`, e.g. \`env: { X: "${example}" }\`, then write "$X" in \`run\``,
    });
  }
  const place = scriptSites(strings, shell).problems[0];
  const placed = place ? refs[place.index]?.offset : undefined;
  if (place) problems.push({ path: ['run'], ...(placed === undefined ? {} : { offset: placed }), code: 'shell_reference_place', message: `\`${refs[place.index]?.raw ?? 'a reference'}\`: ${place.message}`, hint: 'pass the value with `env` and use the variable where the shell should see it' });
  return problems;
}

/** A step's output may set a variable for the command, but not one that chooses what runs or what it loads. */
function envProblems(env: unknown, ctx: StaticContext): BlockProblem[] {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) return [];
  const problems: BlockProblem[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!CODE_VARIABLES.test(name) || ctx.known(value) !== 'run') continue;
    problems.push({ path: ['env', name], code: 'shell_output_as_code', message: `a step's output may not set \`${name}\`: it chooses what the command runs or loads`, hint: 'write this variable in the workflow, and pass the output in a variable of your own name' });
  }
  return problems;
}
