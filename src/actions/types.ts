/**
 * The contract every action (`llm`, `http`, `file`, …) implements. Actions are plugins: they never import the
 * scheduler or each other, and adding one means adding a folder and one line in the registry.
 */
import type { z } from 'zod';
import type { Reference } from '../template/parse.ts';

export interface ActionContext {
  /** Aborted when the run stops or the step times out. Pass it to every fetch and provider call. */
  signal: AbortSignal;
  stepId: string;
  /** The workflow file's folder: relative paths resolve against it, not the current directory. */
  baseDir: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The run's settings: default model (config / CLI / environment), concurrency, stated rate limits. */
  defaults: Readonly<{ model?: string; maxConcurrency: number; rateLimits: Readonly<Record<string, { readonly rpm?: number; readonly tpm?: number }>> }>;
  /** State actions share for the length of one run (e.g. a provider's rate limiter), keyed by the action. */
  runScope: Map<string, unknown>;
  /** Report progress that is not a result (e.g. waiting out a rate limit). */
  notify(event: ActionNotice): void;
  /**
   * Waits for `work` without counting the time against the step's timeout: the timeout is for the step's own
   * running time, not time queued behind a rate limiter.
   */
  untimed<T>(work: Promise<T>): Promise<T>;
  /**
   * Throws `not_allowed` (a ConductorError) if `value`, a new destination for input key `key` — the target of a
   * redirect — is not allowed for this step: when a step's output chose the first one, every later one is held
   * to the same rule. A no-op when the key was not data-chosen. Absent outside the engine (an action called
   * directly, in a test).
   */
  confine?(key: string, value: string): void;
  /**
   * How the string at `path` in the input (a top-level key, or keys from the block's root: `['run', 2]`) was
   * written: its literal text and the resolved values between, kept apart (as a tagged template's); a string
   * written literally is one part with no values. Only under keys the action lists in `keepsParts`; undefined
   * when the value there is not a string. Absent outside the engine (an
   * action called directly): an action that needs it must refuse to run without it.
   */
  parts?(path: string | readonly (string | number)[]): ResolvedParts | undefined;
  /**
   * Limits shared with every other process calling the same endpoint (a queue's workers, src/queue/), when the
   * run has them: a call waits for them after its own process's limiter, and says how it went. Absent in a run
   * on one machine.
   */
  sharedLimits?: SharedLimits;
}

/** Rate limits one endpoint shares across processes: requests and tokens per minute, and a pause after a 429. */
export interface SharedLimits {
  /** Waits (calling `notice` while it does) until the endpoint's shared limits let one call of `tokens` go. */
  acquire(endpoint: string, limits: SharedLimitSettings, tokens: number, signal: AbortSignal, notice: (reason: string, untilMs: number) => void): Promise<SharedGrant>;
}

export interface SharedLimitSettings {
  rpm?: number;
  tpm?: number;
  /** How long a minute is: 60 000 ms, shorter only in tests. */
  minuteMs?: number;
}

export interface SharedGrant {
  /** After the call: its real tokens correct the estimate; a 429 pauses the endpoint for every process. */
  done(feedback: { rateLimited: boolean; retryAfterMs?: number; usage?: { inputTokens: number; outputTokens: number } }): void;
}

/** A string as written, resolved: `strings.length === values.length + 1`, values stringified as in the text. */
export interface ResolvedParts {
  readonly strings: readonly string[];
  readonly values: readonly string[];
  /** Whether each value is data: a step's output, or the item of a list a step's output made (never the author's). */
  readonly data: readonly boolean[];
}

/**
 * When a value in a block is known: `literal` as written in the file; `start` once the run starts (built only
 * from inputs, `${env.*}`, and the item or index of a list the file or the inputs give); `run` only as the run
 * goes (it holds a step's output, or an item of a list a step's output made).
 */
export type Known = 'literal' | 'start' | 'run';

/** A string as written in the workflow: its literal text and the references between (`strings.length === refs.length + 1`). */
export interface WrittenParts {
  readonly strings: readonly string[];
  /** Each reference as written, when it is known, and (in a block's check) where its `${` is in the string. */
  readonly refs: readonly { readonly raw: string; readonly root: Reference['root']; readonly known: Known; readonly offset?: number }[];
}

/** What an action's static checks may ask about a block as written (templates still as text). */
export interface StaticContext {
  /** The workflow file's folder. */
  baseDir: string;
  /** When a value of the block is known (see `Known`); anything not a string with a reference is `literal`. */
  known(value: unknown): Known;
  /** A string of the block split at its references; undefined when it holds none (or is not a string). */
  written(value: unknown): WrittenParts | undefined;
}

/** A problem `check` found in a block: where in the block (keys from the block's root), and what to do. */
export interface BlockProblem {
  path: readonly (string | number)[];
  /** Where in the string at `path` the problem is (a reference's `offset`): the column points there. */
  offset?: number;
  /** A stable code (`validate --json`), e.g. `shell_step_output`. */
  code: string;
  message: string;
  hint?: string;
}

/** Tokens a result used, by the model that used them: the engine totals them per model and per run. */
export interface Usage {
  /** `provider:model`. */
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** Of `inputTokens`, those the provider read from its prompt cache, when it says. */
  cachedInputTokens?: number;
}

/**
 * The most a call may use, known before it is made: for a budget (reserved before the call, settled with the
 * real usage after) and a tokens-per-minute limit. `outputTokens` is absent when nothing bounds the answer.
 */
export interface TokenEstimate {
  model: string;
  inputTokens: number;
  outputTokens?: number;
}

/** A kind of call `plan` counts ("2 LLM calls"): `kind` is its key in `plan --json`'s `calls`. */
export interface CallKind {
  kind: string;
  /** One of them, in words ("LLM call"); the plural adds an `s`. */
  noun: string;
}

export type { ActionNotice } from '../core/events.ts';
import type { ActionNotice } from '../core/events.ts';

export interface ActionResult {
  output: unknown;
  /** Extra properties templates may read as `${steps.<id>.<name>}` (declared in `exposes`). */
  properties?: Record<string, unknown>;
  /** Model tokens the step used (an `llm` call): totals per model, `plan`'s expected tokens, the store. */
  usage?: Usage;
}

/**
 * Something a step touches that orders it against other steps (in file order). Reads commute with reads,
 * adds with adds; a write conflicts with everything, and a read with an add.
 */
export interface Resource {
  key: string;
  mode: 'read' | 'add' | 'write';
  /** How the plan explains the resulting edge ("file /abs/data.txt"). */
  label: string;
  /**
   * Makes this a read of a set of keys known by a rule (a glob's matches) instead of one key: `key` is then a
   * prefix ending in `/` (or `\`), and the set is every key, changed before this step or after it, that starts
   * with `key` and whose rest (the text after `key`) `match` accepts. Pass the same function for the same rule:
   * steps reading one set are grouped like readers of one file (any function is correct, the same one is lean).
   */
  match?: (rest: string) => boolean;
}

export interface ActionDefinition<Input = unknown> {
  name: string;
  /** One line for `conductor schema` and the README. */
  description: string;
  /**
   * The block as written in a workflow (strict: unknown keys are errors). Leaves that may hold a template
   * accept one; after templates are resolved the same schema checks the concrete input again.
   */
  schema: z.ZodType<Input>;
  /** Properties besides `output` and `status` that `${steps.<id>.…}` may read. */
  exposes?: readonly string[];
  /**
   * Resources known before the run (from literal parts of the block), for ordering conflicting steps. `block`
   * is as written (templates as text); `ctx.known` tells what a template is known from.
   */
  resources?(block: Record<string, unknown>, ctx: StaticContext): Resource[];
  /**
   * Checks of the block as written, beyond its schema, made by `validate` (a step's output where data may not
   * go): each problem located by its path in the block. `block` is as written (templates as text).
   */
  check?(block: Readonly<Record<string, unknown>>, ctx: StaticContext): BlockProblem[];
  /** The kinds of call `plan` counts for this action, in the order it lists them (none: it counts none). */
  calls?: readonly CallKind[];
  /** Which of `calls` one run of this block makes (default: the first); `block` as for `preflight`. */
  callOf?(block: PreflightBlock): string;
  /** Results report `usage` (model tokens): `plan` estimates its steps' tokens from their history. */
  usesTokens?: boolean;
  /**
   * The worst case of one call with this resolved input (prompt tokens estimated, the answer's bound), before it
   * is made: a budget reserves it. Actions whose steps use no tokens have none.
   */
  estimate?(input: Input, ctx: PreflightContext): TokenEstimate | undefined;
  /**
   * Whether a result for this resolved input may be taken from the step cache when caching is on (a model
   * call, an HTTP GET): it only looks, so sending it again would bring the same. A step that says `cache: true`
   * is cached whatever this says; absent: never, unless the step says so.
   */
  cacheable?(input: Input): boolean;
  /**
   * Top-level input keys whose strings the action also needs as written, literal text and values apart
   * (`ActionContext.parts`): how `shell` splits a command into words without splitting a value.
   */
  keepsParts?: readonly string[];
  /**
   * About how long one step of this action takes, in ms: a first run (no history yet) schedules by it, so one
   * slow call starts ahead of a chain of quick ones. Only the ratios between actions matter.
   */
  typicalMs?: number;
  /**
   * Its failures are tried again only when the step says `retry` (a command's exit is rarely transient, and
   * running it again may repeat what it did); other actions' transient failures get the default retries.
   */
  retriesWhenAsked?: boolean;
  /**
   * How long, in ms, `run` may take to end what it started after its signal aborts (a command's process group:
   * SIGTERM, then SIGKILL 5 s later). The run waits that long (and a little more) for it before it ends, so
   * nothing the step started outlives the run. Absent: the run does not wait (an aborted fetch ends at once).
   */
  stopGraceMs?: number;
  /**
   * Its steps need nothing of the machine the run was started on (no workflow folder, no local process): with
   * a queue (`--queue`) they run on workers. Absent: they always run in the run's own process.
   */
  runsOnWorkers?: boolean;
  /** Seconds before the step times out, when neither the step, its block's `timeout` nor `config.timeout` say (undefined: none). */
  defaultTimeoutSeconds?: number;
  /**
   * Checks made before anything runs, from the block's literal values (a missing API key, say). A problem
   * here stops the run before a single call is made.
   */
  preflight?(block: PreflightBlock, ctx: PreflightContext): { message: string; hint?: string; code?: string } | undefined;
  /**
   * Bumped when the action does something different with the same input: it is part of every step
   * fingerprint, so a result recorded by an older behaviour is never reused (default 1).
   */
  version?: number;
  /**
   * What a step runs with beyond its block once defaults apply (an `llm` step's effective model and endpoint),
   * as plain JSON data with no secret in it. Part of the step's fingerprint: change a default, and the steps
   * it reaches run again instead of reusing answers given under the old one.
   */
  identity?(block: PreflightBlock, ctx: PreflightContext): unknown;
  /**
   * Input keys that decide where data goes: a `path` on disk, a `url` to call, a `model` string (its provider
   * is where the prompt goes), or a map of HTTP `headers` (its `Host`, `X-Forwarded-Host` and `Forwarded`
   * entries). When a step's output flows into one, the engine confines it before the action runs (see
   * scheduler/confine.ts); the action needs to do nothing about it.
   */
  destinations?: Readonly<Record<string, DestinationKind>>;
  /**
   * Whether this resolved input changes what is at its `path` destinations (a write, an append, a delete)
   * rather than only looking (a read, a listing). A data-chosen path that changes something may not be the
   * workflow file, a folder holding it, an allowed folder itself, or anything in a `.git` folder. Absent: every
   * use counts as a change.
   */
  changes?(input: Readonly<Record<string, unknown>>): boolean;
  /**
   * Input keys where a value taken from `${env.*}` is a secret whatever the variable's name (http: `headers`,
   * so `Authorization: ${env.API_AUTH}` is never shown or stored).
   */
  secretKeys?: readonly string[];
  /** Values of a resolved input that are credentials (an `authorization` header): never shown or stored. */
  secrets?(input: Input): Iterable<string>;
  /**
   * Values in a step's result that are credentials (a session cookie the server set), each with whether it is
   * certainly one or only when long enough to be: masked wherever they turn up from then on.
   */
  resultSecrets?(result: ActionResult): Iterable<[value: string, named: boolean]>;
  /** A result's properties as they may be shown or stored, credentials taken out (header names kept). */
  withoutCredentials?(properties: Record<string, unknown>): Record<string, unknown>;
  /**
   * Loads what the action's calls need (a client library) before the run starts, so no step's recorded
   * time includes it. Called once per run, only for actions the workflow uses.
   */
  prepare?(): Promise<void>;
  /** A short description of what the step does, for failure messages ("GET http://…"). */
  describe?(input: Input): string;
  run(input: Input, ctx: ActionContext): Promise<ActionResult>;
}

export type AnyAction = ActionDefinition<any>;

/** What a destination input key holds (see `ActionDefinition.destinations`). */
export type DestinationKind = 'path' | 'url' | 'model' | 'headers';

/** A block's values where they are literal; templated ones are `undefined` (unknown until the run). */
export type PreflightBlock = Readonly<Record<string, unknown>>;

export interface PreflightContext {
  env: Readonly<Record<string, string | undefined>>;
  defaults: ActionContext['defaults'];
  /** The workflow file's folder. Absent outside a run's preflight. */
  baseDir?: string;
  /**
   * The string at `path` in the block (a top-level key, or keys from the block's root) as written, when it holds
   * a reference: the literal parts of a templated value (a command's program name). Absent outside a run's preflight.
   */
  written?(path: string | readonly (string | number)[]): WrittenParts | undefined;
  /**
   * The value at `path` in the block when it is written literally (no reference anywhere in it), else undefined:
   * a literal item of a list, or entry of a map, that holds references elsewhere. Absent outside a run's preflight.
   */
  literal?(path: readonly (string | number)[]): unknown;
  /**
   * The steps of actions that run on workers (`runsOnWorkers`) will run with a worker's environment, not this one
   * (`--queue`): their API keys are checked there, when they run, and not against `env`.
   */
  onWorkers?: boolean;
}
