/** `--cache` / `--no-cache` as `run`, `resume` and `plan` read them. Light: no engine imports. */
import { cachePolicy, type CachePolicy } from '../cache/policy.ts';
import { UsageError } from '../core/errors.ts';
import type { WorkflowConfig } from '../definition/types.ts';

/**
 * The run's cache policy from `config.cache` and the flags; a UsageError (exit 2, nothing run) for both flags
 * at once, and for `--cache` with `--no-store`: the cache is kept in the store, and a run that asked for it
 * should not quietly pay for every call. `config.cache` with `--no-store` is off: nothing is read or written.
 */
export function cacheFlags(config: Pick<WorkflowConfig, 'cache'>, values: Record<string, unknown>): CachePolicy {
  const policy = cachePolicy(config, { cache: values['cache'] === true, noCache: values['no-cache'] === true });
  if (values['cache'] === true && values['no-store'] === true) {
    throw new UsageError('`--cache` needs the run store: the step cache is kept there', { hint: 'drop --no-store (--store PATH keeps the store, and its cache, elsewhere)' });
  }
  return policy;
}
