/**
 * The step cache over the run store's entries (`RunStore.cache`): what the step runner asks before a step sends
 * anything, and what the run keeps after one succeeds (see scheduler/hooks.ts for when each is called).
 *
 * The cache never fails a run: a store that cannot be read (locked, damaged) is a miss, one that cannot be
 * written keeps nothing. Neither is hidden: the run's own record writes to the same file and fails the run.
 */
import type { AnyAction, PreflightContext } from '../actions/types.ts';
import type { StepSpec } from '../definition/types.ts';
import type { CachedResult, StepCache } from '../scheduler/hooks.ts';
import type { CacheEntries } from '../store/types.ts';
import { cacheKey } from './key.ts';
import { stepSetting, type CachePolicy } from './policy.ts';

/** What a key is made with besides the input: what `identity` sees, and the workflow's folder. */
export type CacheContext = Pick<PreflightContext, 'env' | 'defaults'> & { readonly baseDir: string };

export interface StoreStepCacheOptions {
  entries: CacheEntries;
  policy: CachePolicy;
  /** What actions' `identity` sees: the run's environment and settings (`PreparedRun.env` and `defaults`), and the workflow's folder. */
  context: CacheContext;
  now?: () => number;
}

export class StoreStepCache implements StepCache {
  readonly #entries: CacheEntries;
  readonly #policy: CachePolicy;
  readonly #context: CacheContext;
  readonly #now: () => number;
  /**
   * The TTL of the step that last asked for each key. The step runner calls `get` right after `keyFor`, and `get`
   * reads this before it awaits anything: two steps with the same request and other TTLs cannot swap theirs.
   */
  readonly #maxAge = new Map<string, number | undefined>();

  constructor(options: StoreStepCacheOptions) {
    this.#entries = options.entries;
    this.#policy = options.policy;
    this.#context = options.context;
    this.#now = options.now ?? Date.now;
  }

  get policy(): CachePolicy {
    return this.#policy;
  }

  keyFor(step: StepSpec, action: AnyAction, input: unknown): string | undefined {
    const found = stepKey(this.#policy, step, action, input, this.#context);
    if (found) this.#maxAge.set(found.key, found.ttlMs);
    return found?.key;
  }

  async get(key: string): Promise<CachedResult | undefined> {
    const maxAge = this.#maxAge.get(key);
    this.#maxAge.delete(key);
    try {
      const entry = await this.#entries.take(key, maxAge === undefined ? 0 : this.#now() - maxAge);
      if (!entry) return undefined;
      return {
        output: entry.output,
        ...(entry.properties ? { properties: entry.properties } : {}),
        ...(entry.usage ? { usage: entry.usage } : {}),
        // No price when it was kept: the run prices its usage now, if it can.
        ...(entry.costUsd == null ? {} : { costUsd: entry.costUsd }),
      };
    } catch {
      return undefined;
    }
  }

  async put(key: string, result: CachedResult): Promise<void> {
    try {
      await this.#entries.put(key, { action: key.slice(0, key.indexOf(':')), ...result });
    } catch {
      // Kept nothing: the next run sends the request again.
    }
  }
}

/**
 * A step's key for this resolved input, and how old an entry it takes (undefined: any); undefined when it is not
 * cached. The run (`keyFor`) and `plan` both ask here, so they agree on what hits.
 */
export function stepKey(policy: CachePolicy, step: StepSpec, action: AnyAction, input: unknown, context: CacheContext): { key: string; ttlMs: number | undefined } | undefined {
  const setting = stepSetting(policy, step, action, input);
  if (!setting) return undefined;
  // An action with paths (`file`, a command's `cwd`) reads and writes in the workflow's folder: keyed with it.
  const inFolder = Object.values(action.destinations ?? {}).includes('path');
  try {
    return { key: cacheKey(action, input, action.identity?.(input as Record<string, unknown>, context), inFolder ? context.baseDir : undefined), ttlMs: setting.ttlMs };
  } catch {
    // An input nested past what JSON can write, or an identity the action cannot make: sent, not cached.
    return undefined;
  }
}
