/**
 * The validated, normalised, read-only form of a workflow. Progress is never recorded here: a run keeps its
 * own state (see scheduler/), so one spec can be run many times, even at once.
 */
import type { Diagnostic, SourceLocation } from '../core/errors.ts';
import type { RetryPolicy } from '../core/retry.ts';
import type { Plan } from '../graph/plan.ts';
import type { TemplateValue } from '../template/value.ts';

export const INPUT_TYPES = ['string', 'number', 'boolean', 'object', 'array'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

export interface InputSpec {
  readonly type: InputType;
  readonly required: boolean;
  readonly default?: unknown;
  readonly description?: string;
  /** Where the input is declared, for problems with the value a run was given. */
  readonly location: SourceLocation;
}

export interface RateLimit {
  readonly rpm?: number;
  readonly tpm?: number;
}

/** The step cache, on: how long an entry may be used (absent: always). */
export interface CacheSetting {
  readonly ttlMs?: number;
}

/** US dollars per million tokens. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  /** Input tokens the provider read from its prompt cache, where it reports them (default: `input`). */
  readonly cachedInput?: number;
}

export interface WorkflowConfig {
  /** How many steps may run at once (1–1000, default 10). */
  readonly maxConcurrency: number;
  /** Default `provider:model` for `llm` steps. */
  readonly model?: string;
  /** Default step timeout in seconds (an action's own default applies when unset). */
  readonly timeout?: number;
  /** Known limits by provider name, requests and tokens per minute (`openai: { rpm: 500, tpm: 200000 }`). */
  readonly rateLimits: Readonly<Record<string, RateLimit>>;
  /** The step cache for the run's steps (`config.cache`): absent when off; `ttlMs` absent: entries never expire. */
  readonly cache?: CacheSetting;
  /** Prices per million tokens, US dollars, by `provider:model` (`config.prices`). */
  readonly prices: Readonly<Record<string, ModelPrice>>;
  /** The most the run may spend (`config.budget`). */
  readonly budget?: { readonly usd?: number; readonly tokens?: number };
  /** Environment variables whose values are secrets whatever their names (`config.secrets`). */
  readonly secrets: readonly string[];
  /** Folders (absolute) besides `baseDir` where a data-chosen `file` path may point (`config.files.allow`). */
  readonly allowedDirs: readonly string[];
  /** Hosts a data-chosen `http` URL may call (`config.http.allowHosts`; `*.` prefixes match subdomains). */
  readonly allowedHosts: readonly string[];
  /** The longest list a `foreach` step may run over (`config.maxItems`, default 10,000). */
  readonly maxItems: number;
}

/**
 * A `foreach` step: its action runs once per item of a list, each item its own unit of work (a slot, retries,
 * a timeout, cancellation and a record of its own). The step's output is the array of item outputs.
 */
export interface ForeachSpec {
  /** The list: exactly one reference (resolved when the step becomes ready), or a literal YAML list. */
  readonly items: TemplateValue;
  /** The item variable (`as`, default `item`): `${item}` in the step's block. */
  readonly as: string;
  /** This step's items at once, inside the global limit (absent: only the global limit). */
  readonly maxConcurrency?: number;
}

/**
 * An `if` condition: a CEL expression over `steps`, `inputs` and `env`, bound as variables (never spliced into
 * the text), evaluated when every step it depends on has settled (see condition/).
 */
export interface ConditionSpec {
  /** The expression as evaluated (without `${ }` when it was written inside one). */
  readonly expression: string;
  readonly location: SourceLocation;
  /** The steps it names (`steps.x…` / `steps["x"]…`): each is a dependency of the step. */
  readonly steps: readonly string[];
  /**
   * The steps whose `status` it reads: when one of them is skipped or failed-and-continued, the condition
   * decides whether the step runs (a fallback), instead of the step being skipped.
   */
  readonly statusOf: readonly string[];
  /** Inputs and environment variables it names: only these are bound. */
  readonly inputs: readonly string[];
  readonly env: readonly string[];
}

export interface StepSpec {
  readonly id: string;
  readonly name?: string;
  /** Position in the file (0-based); ties in scheduling go to the earlier step. */
  readonly index: number;
  /** The action's name: `llm`, `http`, `file`, … */
  readonly action: string;
  /** The action block with its templates compiled; resolved against the run's values when the step starts. */
  readonly input: TemplateValue;
  /** `depends_on` as written (the plan holds every dependency, with reasons). */
  readonly dependsOn: readonly string[];
  readonly retry: RetryPolicy;
  /** The step's own `cache:`: false (never), a setting (on), or absent (the run's `config.cache`). */
  readonly cache?: false | CacheSetting;
  /** Seconds each attempt may run, when the step says (`timeout:`); else `config.timeout`, else the action's default. */
  readonly timeout?: number;
  /** `foreach`: run the action once per item. */
  readonly foreach?: ForeachSpec;
  /** `if`: run only when this is true (else the step is `skipped`, reason `condition`). */
  readonly condition?: ConditionSpec;
  /** `continueOnError`: a final failure (per item, for a foreach step) does not stop the run. */
  readonly continueOnError: boolean;
  readonly location: SourceLocation;
}

export interface WorkflowSpec {
  /** Absolute path of the workflow file (or the name given to `parseWorkflow`). */
  readonly file: string;
  /** The folder relative paths resolve against. */
  readonly baseDir: string;
  /** The file's text, as read. */
  readonly source: string;
  readonly name?: string;
  readonly description?: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  readonly config: WorkflowConfig;
  readonly steps: readonly StepSpec[];
  readonly outputs: Readonly<Record<string, TemplateValue>>;
  readonly plan: Plan;
  /** What is legal but probably not meant (`{{ .steps.a.output }}` text, say): shown before a run, never fatal. */
  readonly warnings: readonly Diagnostic[];
}
