/**
 * What `plan` says about the step cache: for each step the cache is on for, whether its request is answered
 * there already. Only steps whose input is known before the run (written in the file, or from inputs and the
 * environment) can be looked up; one that uses another step's output is `unknown`. Looks without counting hits.
 */
import type { ActionRegistry } from '../actions/registry.ts';
import type { AnyAction } from '../actions/types.ts';
import type { StepSpec, WorkflowSpec } from '../definition/types.ts';
import type { Reference } from '../template/parse.ts';
import { literalFields, resolveValue, type ReferenceLookup } from '../template/value.ts';
import type { CacheEntries } from '../store/types.ts';
import type { CachePolicy } from './policy.ts';
import { stepKey, type CacheContext } from './step-cache.ts';

export interface StepCachePreview {
  /** `hit`: answered from the cache (a foreach step: every item); `miss`: sent; `unknown`: known only as the run goes. */
  cache: 'hit' | 'miss' | 'unknown';
  /** A foreach step whose list is known: how many of its items hit. */
  cacheHits?: number;
}

export interface PreviewOptions {
  policy: CachePolicy;
  /** The run's inputs as far as they are given (`plan -i`, defaults filled in). */
  inputs: Readonly<Record<string, unknown>>;
  context: CacheContext;
  actions: ActionRegistry;
  /** The store's entries; absent when there is no store yet (every known request misses). */
  entries?: Pick<CacheEntries, 'has'>;
  now?: number;
}

/** By step id, for the steps the cache is (or may be) on for. */
export async function previewCache(spec: WorkflowSpec, options: PreviewOptions): Promise<Record<string, StepCachePreview>> {
  const { policy, inputs, context } = options;
  if (policy.off) return {};
  const now = options.now ?? Date.now();
  const base: ReferenceLookup = (ref) => (ref.root === 'inputs' ? (Object.hasOwn(inputs, ref.name) ? inputs[ref.name] : undefined) : ref.root === 'env' ? context.env[ref.name] : undefined);
  const out: Record<string, StepCachePreview> = {};
  for (const step of spec.steps) {
    const action = options.actions.get(step.action);
    if (!action || step.cache === false || (!step.cache && !(policy.run && action.cacheable?.(literalFields(step.input))))) continue;
    /** Whether the unit with this lookup hits; undefined when it is not cached; null when it cannot be known. */
    const hits = async (lookup: ReferenceLookup): Promise<boolean | null | undefined> => {
      const input = known(step, action, lookup);
      if (input === undefined) return null;
      const found = stepKey(policy, step, action, input, context);
      if (!found) return undefined;
      return (await options.entries?.has(found.key, found.ttlMs === undefined ? 0 : now - found.ttlMs)) ?? false;
    };
    if (!step.foreach) {
      const hit = await hits(base);
      if (hit !== undefined) out[step.id] = { cache: hit === null ? 'unknown' : hit ? 'hit' : 'miss' };
      continue;
    }
    let list: unknown;
    try {
      list = resolveValue(step.foreach.items, base);
    } catch {
      out[step.id] = { cache: 'unknown' };
      continue;
    }
    if (!Array.isArray(list)) {
      out[step.id] = { cache: 'unknown' };
      continue;
    }
    const items: (boolean | null | undefined)[] = [];
    for (const [index, item] of list.entries()) items.push(await hits((ref: Reference) => (ref.root === 'item' ? item : ref.root === 'foreach' ? (ref.name === 'index' ? index : list.length) : base(ref))));
    const cached = items.filter((h) => h !== undefined);
    if (cached.length === 0) continue;
    if (cached.includes(null)) out[step.id] = { cache: 'unknown' };
    else {
      const count = cached.filter(Boolean).length;
      out[step.id] = { cache: count === cached.length ? 'hit' : 'miss', cacheHits: count };
    }
  }
  return out;
}

/** The step's resolved, checked input when it is known before the run; undefined when not. */
function known(step: StepSpec, action: AnyAction, lookup: ReferenceLookup): unknown {
  try {
    // A reference to another step, or an input not given, resolves to nothing here, and throws.
    const checked = action.schema.safeParse(resolveValue(step.input, lookup));
    return checked.success ? checked.data : undefined;
  } catch {
    return undefined;
  }
}
