/**
 * Which steps use the step cache, and for how long an entry serves: the command line over the workflow, the
 * step over the run. Normalised once from `config.cache` and the flags (`cachePolicy`); `stepSetting` then
 * decides per step from its resolved input.
 */
import type { AnyAction } from '../actions/types.ts';
import { UsageError } from '../core/errors.ts';
import type { CacheSetting, StepSpec, WorkflowConfig } from '../definition/types.ts';

export interface CachePolicy {
  /** `--no-cache`: nothing is taken from the cache or kept there, whatever the workflow says. */
  readonly off?: true;
  /** On for every cacheable step (`config.cache`, `--cache`), with `config.cache`'s TTL if it has one. */
  readonly run?: CacheSetting;
}

export interface CacheFlags {
  cache?: boolean;
  noCache?: boolean;
}

/** Throws a UsageError (exit 2) when both flags are given. */
export function cachePolicy(config: Pick<WorkflowConfig, 'cache'>, flags: CacheFlags): CachePolicy {
  if (flags.cache && flags.noCache) throw new UsageError('`--cache` and `--no-cache` cannot be given together', { hint: 'give one: --cache turns the step cache on for this run, --no-cache turns it off' });
  if (flags.noCache) return { off: true };
  // `--cache` keeps `config.cache`'s TTL; alone, entries serve however old they are.
  if (flags.cache) return { run: config.cache ?? {} };
  return config.cache ? { run: config.cache } : {};
}

/** Whether any step may use the cache under `policy`: the run needs one only then. */
export function cacheUsed(policy: CachePolicy, steps: readonly StepSpec[]): boolean {
  return !policy.off && (policy.run !== undefined || steps.some((s) => s.cache));
}

/**
 * The setting step `step` runs with for this resolved input; undefined when its result is neither taken from
 * the cache nor kept there. `--no-cache` and a step's `cache: false` win; a step's own `cache: true` caches it
 * whatever the action (a POST, a file, a command); else the run's setting, for requests that only look
 * (`action.cacheable`: a model call, an HTTP GET). TTL: the step's, else `config.cache`'s, else none.
 */
export function stepSetting(policy: CachePolicy, step: StepSpec, action: AnyAction, input: unknown): CacheSetting | undefined {
  if (policy.off || step.cache === false) return undefined;
  if (step.cache) {
    const ttlMs = step.cache.ttlMs ?? policy.run?.ttlMs;
    return ttlMs === undefined ? {} : { ttlMs };
  }
  return policy.run && action.cacheable?.(input) ? policy.run : undefined;
}
