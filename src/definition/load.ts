/**
 * Document → WorkflowSpec. `checkWorkflow` collects every problem in one pass; `parseWorkflow` and
 * `loadWorkflow` throw a `WorkflowInvalidError` holding all of them.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defaultActions } from '../compose.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import { WorkflowInvalidError, type Diagnostic } from '../core/errors.ts';
import { DEFAULT_RETRY } from '../core/retry.ts';
import { decodeWorkflow } from './decode.ts';
import { depthProblem, tooDeepMessage, type DepthProblem } from './depth.ts';
import { foreignTemplates } from './foreign-templates.ts';
import { checkSemantics, isRecord } from './references.ts';
import { workflowSchema } from './schema.ts';
import { SourceFile, yaml, type Locator } from './source.ts';
import { DeferredSource } from './deferred-source.ts';
import { parsePlain } from './fast-parse.ts';
import type { CacheSetting, InputSpec, StepSpec, WorkflowSpec } from './types.ts';
import { parseDuration } from '../core/duration.ts';
import { describePath, issuesToDiagnostics, show } from './zod-issues.ts';

export interface LoadOptions {
  /** The actions a workflow may use (default: the built-in `llm`, `http`, `file`). */
  actions?: ActionRegistry;
  /** Folder relative file paths resolve against (default: the workflow file's folder). */
  baseDir?: string;
}

/**
 * `diagnostics` are the problems (any makes the workflow invalid); `warnings` are things that are legal but
 * probably not meant (`severity: 'warning'`), found in a file that parses, valid or not.
 */
export type CheckResult = { ok: true; spec: WorkflowSpec; diagnostics: []; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[]; warnings: Diagnostic[] };

/** `config.maxItems` when the workflow does not say. */
export const DEFAULT_MAX_ITEMS = 10_000;

const schemaCache = new WeakMap<ActionRegistry, ReturnType<typeof workflowSchema>>();

/**
 * Two paths to one answer. The fast path parses with js-yaml into a plain value (no Document, no positions)
 * and runs every check on it, with a DeferredSource that finds a line and column only when one is read. It
 * declines (see fast-parse.ts) any text where js-yaml and `yaml` might read differently; what it does not
 * decline it answers in full — the spec, or every problem — and its answer is final. A declined text goes
 * to the located path: yaml's Document with positions, for syntax errors, aliases, tags and the rest. Both
 * run the same checks on the same value and locate through the same SourceFile, so their answers are equal;
 * fast-path.test.ts proves it over the mutation corpus.
 */
export function checkWorkflow(text: string, file: string, options: LoadOptions = {}): CheckResult {
  const actions = options.actions ?? defaultActions();
  const baseDir = options.baseDir ?? dirname(resolve(file));
  return checkFast(text, file, actions, baseDir) ?? checkLocated(text, file, actions, baseDir);
}

/** The fast path: the answer, or undefined when it declines the text (see checkWorkflow). */
export function checkFast(text: string, file: string, actions: ActionRegistry, baseDir: string): CheckResult | undefined {
  const parsed = parsePlain(text);
  if (!parsed || !isRecord(parsed.value)) return undefined;
  const source = new DeferredSource(file, text, parsed.value);
  const result = checkValue(parsed.value, source, text, file, actions, baseDir);
  source.checked();
  return sorted(result);
}

/** The located path: every problem, each with its line and column. */
export function checkLocated(text: string, file: string, actions: ActionRegistry, baseDir: string): CheckResult {
  const source = new SourceFile(file, text);
  const fail = (diagnostics: Diagnostic[]): CheckResult => ({ ok: false, diagnostics: sortDiagnostics(diagnostics), warnings: [] });

  if (source.tooDeepAt !== undefined) return fail([{ ...source.at(source.tooDeepAt), ...tooDeepMessage() }]);
  if (source.doc.errors.length > 0) {
    // Only the first: one mistake (an unclosed quote, a tab) makes the parser report several, at the same
    // place or all the way down the file, and only the first is sure to be a mistake of the user's.
    const first = source.doc.errors.map((e) => ({ error: e, offset: syntaxErrorOffset(text, e.code, e.message, e.pos[0]) })).sort((a, b) => a.offset - b.offset)[0]!;
    return fail([{ ...source.at(first.offset), code: 'yaml_syntax', message: syntaxMessage(first.error.code, first.error.message), hint: 'fix the YAML syntax first; other checks run once it parses' }]);
  }
  if (source.doc.warnings.length > 0) {
    // An unknown tag (`!include prompt.txt`) would otherwise leave its text in place, silently.
    return fail(source.doc.warnings.map((w) => ({ ...source.at(w.pos[0]), ...yamlWarning(w.code, firstLine(w.message), text.slice(w.pos[0], w.pos[1])) })));
  }
  let raw: unknown;
  try {
    raw = source.doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    return fail(aliasProblems(source, error));
  }
  // Without aliases the values nest exactly as the text does, which the parser has checked.
  const depth = source.mayHaveAliases ? depthProblem(raw) : undefined;
  if (depth) return fail([depthDiagnostic(source, depth)]);
  if (raw === null || raw === undefined) return fail([{ file, line: 1, column: 1, code: 'empty', message: 'the file is empty', hint: 'a workflow needs at least `steps:`' }]);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return fail([{ ...source.locate([]), code: 'invalid_type', message: `a workflow is a map with \`steps\`, got ${show(raw)}` }]);
  }
  return sorted(checkValue(raw as Record<string, unknown>, source, text, file, actions, baseDir));
}

/**
 * Problems and warnings in file order (in place: a valid spec's `warnings` is the same list). On the fast path
 * this reads their lines, which builds the Document — only when there is something to report.
 */
function sorted(result: CheckResult): CheckResult {
  sortDiagnostics(result.diagnostics);
  sortDiagnostics(result.warnings);
  return result;
}

/**
 * The checks on the parsed value (the schema, the semantic checks, the graph) and, if sound, the spec; the
 * problems and warnings in the order found (see `sorted`).
 */
function checkValue(raw: Record<string, unknown>, source: Locator, text: string, file: string, actions: ActionRegistry, baseDir: string): CheckResult {
  const warnings = foreignTemplates(raw, text, source, actions);
  const fail = (diagnostics: Diagnostic[]): CheckResult => ({ ok: false, diagnostics, warnings });

  let schema = schemaCache.get(actions);
  if (!schema) schemaCache.set(actions, (schema = workflowSchema(actions)));
  const parsed = schema.safeParse(raw);
  const diagnostics = parsed.success ? [] : issuesToDiagnostics(parsed.error.issues, source, raw, schema);
  const semantic = checkSemantics(raw, source, actions, baseDir);
  diagnostics.push(...semantic.diagnostics, ...checkInputDefaults(raw, source));
  if (diagnostics.length > 0 || !parsed.success || !semantic.plan) return fail(diagnostics);

  const data = parsed.data;
  const inputs: Record<string, InputSpec> = {};
  for (const [name, def] of Object.entries(data.inputs ?? {})) {
    inputs[name] = {
      type: def.type ?? 'string',
      // An input with no default is required unless it says otherwise: a silently missing value is a bug.
      required: def.required ?? def.default === undefined,
      ...(def.default === undefined ? {} : { default: def.default }),
      ...(def.description === undefined ? {} : { description: def.description }),
      location: source.locate(['inputs', name], { key: true }),
    };
  }
  const stepAt = source.locateItems(['steps']);
  const steps: StepSpec[] = data.steps.map((step, i) => {
    const checked = semantic.steps[i]!;
    return Object.freeze({
      id: step.id,
      ...(step.name === undefined ? {} : { name: step.name }),
      index: i,
      action: checked.action,
      input: checked.compiled.value,
      dependsOn: step.dependsOn ?? step.depends_on ?? [],
      retry: { attempts: step.retry?.attempts ?? DEFAULT_RETRY.attempts, backoffSeconds: step.retry?.backoff ?? DEFAULT_RETRY.backoffSeconds, ...(step.retry ? { stated: true } : {}) },
      ...(step.timeout === undefined ? {} : { timeout: step.timeout }),
      ...(step.cache === undefined ? {} : { cache: cacheSetting(step.cache) ?? false }),
      ...(checked.foreach ? { foreach: { items: checked.foreach.items, as: checked.foreach.as, ...(step.maxConcurrency === undefined ? {} : { maxConcurrency: step.maxConcurrency }) } } : {}),
      ...(checked.condition ? { condition: checked.condition } : {}),
      continueOnError: step.continueOnError ?? false,
      location: stepAt[i]!,
    });
  });
  const spec: WorkflowSpec = {
    file,
    baseDir,
    source: text,
    ...(data.name === undefined ? {} : { name: data.name }),
    ...(data.description === undefined ? {} : { description: data.description }),
    inputs,
    config: {
      maxConcurrency: data.config?.maxConcurrency ?? 10,
      ...(data.config?.model === undefined ? {} : { model: data.config.model }),
      ...(data.config?.timeout === undefined ? {} : { timeout: data.config.timeout }),
      rateLimits: data.config?.rateLimits ?? {},
      ...(cacheSetting(data.config?.cache) ? { cache: cacheSetting(data.config?.cache)! } : {}),
      prices: data.config?.prices ?? {},
      ...(data.config?.budget ? { budget: data.config.budget } : {}),
      secrets: data.config?.secrets ?? [],
      allowedDirs: (data.config?.files?.allow ?? []).map((dir) => resolve(baseDir, dir)),
      allowedHosts: (data.config?.http?.allowHosts ?? []).map((host) => host.toLowerCase()),
      maxItems: data.config?.maxItems ?? DEFAULT_MAX_ITEMS,
    },
    steps,
    outputs: Object.fromEntries(Object.entries(semantic.outputs).map(([k, v]) => [k, v.value])),
    plan: semantic.plan,
    warnings,
  };
  return { ok: true, spec: Object.freeze(spec), diagnostics: [], warnings };
}

/**
 * Parse and validate workflow text; throws `WorkflowInvalidError` with every problem, and the warnings among
 * them in file order (as `validate` shows them). A valid workflow's warnings are on `spec.warnings`.
 */
export function parseWorkflow(text: string, file = '<workflow>', options: LoadOptions = {}): WorkflowSpec {
  const result = checkWorkflow(text, file, options);
  if (!result.ok) throw new WorkflowInvalidError(result.warnings.length ? sortDiagnostics([...result.diagnostics, ...result.warnings]) : result.diagnostics);
  return result.spec;
}

/** Read, parse and validate a workflow file; throws `WorkflowInvalidError` with every problem. */
export async function loadWorkflow(path: string, options: LoadOptions = {}): Promise<WorkflowSpec> {
  const file = resolve(path);
  return parseWorkflow(await readWorkflowFile(path), file, options);
}

/** A workflow file's text; a file that cannot be read, or is not UTF-8, is a `WorkflowInvalidError`. */
export async function readWorkflowFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'this is a folder, not a workflow file' : code === 'EACCES' ? 'cannot read it: permission denied' : `cannot read it: ${(error as Error).message}`;
    throw new WorkflowInvalidError([{ file: path, line: 0, column: 0, code: 'file_unreadable', message }]);
  }
  const decoded = decodeWorkflow(bytes, path);
  if (!decoded.ok) throw new WorkflowInvalidError([decoded.problem]);
  return decoded.text;
}

function checkInputDefaults(raw: Record<string, unknown>, source: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  const inputs = raw['inputs'];
  if (!isRecord(inputs)) return out;
  for (const [name, def] of Object.entries(inputs)) {
    if (!isRecord(def)) continue;
    const { type = 'string', default: value } = def as { type?: unknown; default?: unknown };
    if (value === undefined || typeof type !== 'string') continue;
    if (!matchesType(value, type)) {
      out.push({ ...source.locate(['inputs', name, 'default']), code: 'invalid_value', message: `${describePath(['inputs', name], raw)}: the default is ${show(value)}, not a ${type}` });
    }
  }
  return out;
}

export function matchesType(value: unknown, type: string): boolean {
  switch (type) {
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isRecord(value);
    default:
      return typeof value === type;
  }
}

/** The parser reports an unclosed quote where the file ends; point at the quote that opened it instead. */
function syntaxErrorOffset(text: string, code: string, message: string, offset: number): number {
  if (code !== 'MISSING_CHAR') return offset;
  // "Missing closing "quote" or "Missing closing 'quote".
  const quote = /closing "quote/.test(message) ? '"' : /closing 'quote/.test(message) ? "'" : undefined;
  if (!quote) return offset;
  for (let i = Math.min(offset, text.length) - 1; i >= 0; i--) if (text[i] === quote && text[i - 1] !== '\\') return i;
  return offset;
}

/** `toJS` throws for an alias with no anchor before it, and for aliases expanded past the limit (a "billion laughs"). */
function aliasProblems(source: SourceFile, error: unknown): Diagnostic[] {
  const unresolved: Diagnostic[] = [];
  yaml().visit(source.doc, {
    Alias(_, alias) {
      if (alias.resolve(source.doc)) return;
      const message = `\`*${alias.source}\` refers to no anchor: there is no \`&${alias.source}\` before it`;
      unresolved.push({ ...source.at(alias.range?.[0] ?? 0), code: 'yaml_alias', message, hint: 'set the anchor before the alias, or write the value out' });
    },
  });
  if (unresolved.length > 0) return unresolved;
  return [{ ...source.at(0), code: 'yaml_alias', message: `aliases expand too far: ${firstLine((error as Error).message)}`, hint: 'a workflow may expand aliases up to 1,000 times; write the values out' }];
}

function syntaxMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'a second YAML document starts here: a workflow file holds one';
  return firstLine(message);
}

/** An alias that makes a value contain itself, or nest past the limit. */
function depthDiagnostic(source: SourceFile, problem: DepthProblem): Diagnostic {
  // The path leads through the alias; locating it stops at the alias, which is where to look.
  const at = source.locate(problem.path);
  if (problem.kind === 'too_deep') return { ...at, ...tooDeepMessage() };
  return {
    ...at,
    code: 'yaml_alias',
    message: 'this alias repeats a list or map inside itself: the value would nest without end',
    hint: 'an alias can only repeat a value that does not contain it; write the value out',
  };
}

function yamlWarning(code: string, message: string, written: string): { code: string; message: string; hint?: string } {
  if (code !== 'TAG_RESOLVE_FAILED') return { code: 'yaml_warning', message };
  return {
    code: 'yaml_tag',
    message: `unknown tag \`${written}\`: workflows are plain YAML`,
    hint: 'remove the tag; to use a file’s text, read it in a `file` step and write `${steps.<id>.output}`',
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** `cache:` as written → the setting when it turns the cache on, else undefined. */
function cacheSetting(value: boolean | { ttl: string } | undefined): CacheSetting | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  return { ttlMs: parseDuration(value.ttl)! };
}
