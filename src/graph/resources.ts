import type { Resource } from '../actions/types.ts';
import type { EdgeReason } from './plan.ts';

/**
 * Orders steps that touch the same resource, in file order: reads commute with reads and adds with adds;
 * anything else waits for the earlier access. Each step depends only on the latest conflicting group, so
 * edges stay linear in the number of accesses (1,000 readers of one file add no edges at all).
 *
 * A resource with `match` reads a set of keys (a glob's matches). Each set gets a key of its own that every
 * change (write or add) of a key it holds counts as an add to, and that the set's readers read: readers wait
 * for the changes since the last reader, changes wait for the last readers, and the edges stay linear as above.
 * A set first read after some of its keys changed starts with their latest changes. A rule is tested on a key
 * only when the key changes (reads, most accesses, cost nothing), so the work is changes × distinct rules over
 * their folder; keys are only indexed once a set appears: a workflow without one pays nothing.
 *
 * `accesses[i]` lists step i's resources; the result adds `[dependency, reason]` pairs per step.
 */
export function resourceEdges(accesses: readonly (readonly Resource[])[]): Map<number, EdgeReason>[] {
  interface KeyState {
    mode: 'read' | 'add' | 'write';
    /** Steps in the current group (all the same mode). */
    group: number[];
    /** What every member of the current group waits for: the previous group. */
    before: number[];
  }
  interface KeySet {
    /** Its own key in `states` (no resource key starts with a NUL). */
    id: string;
    match: (rest: string) => boolean;
    /** Why a change of a key it holds waits for its readers: the set, not the key ("glob /abs/notes/*.txt"). */
    reason: EdgeReason;
  }
  const states = new Map<string, KeyState>();
  const edges: Map<number, EdgeReason>[] = accesses.map(() => new Map());
  /** Sets by prefix, then rule. */
  const sets = new Map<string, Map<KeySet['match'], KeySet>>();
  /** Every key used so far, by each of its folder prefixes: built when the first set comes. */
  let below: Map<string, string[]> | undefined;
  let setCount = 0;

  const access = (key: string, mode: KeyState['mode'], step: number, reason: EdgeReason) => {
    const state = states.get(key);
    if (!state) {
      states.set(key, { mode, group: [step], before: [] });
      if (below && !key.startsWith('\0')) for (const prefix of prefixes(key)) push(below, prefix, key);
      return;
    }
    if (mode !== 'write' && state.mode === mode) {
      if (state.group[state.group.length - 1] !== step) state.group.push(step); // steps arrive in order
      for (const d of state.before) if (d !== step) edges[step]!.set(d, reason);
      return;
    }
    const members = state.group.filter((d) => d !== step);
    for (const d of members) edges[step]!.set(d, reason);
    states.set(key, { mode, group: [step], before: members });
  };

  /** The sets that hold `key`: a change of it is a change of them. */
  const holders = (key: string): KeySet[] => {
    const out: KeySet[] = [];
    for (const prefix of prefixes(key)) {
      for (const set of sets.get(prefix)?.values() ?? []) if (set.match(key.slice(prefix.length))) out.push(set);
    }
    return out;
  };

  /** A new set: it starts as the latest changes of the keys it holds, made before it. */
  const newSet = (prefix: string, match: KeySet['match'], label: string): KeySet => {
    if (!below) {
      below = new Map();
      for (const key of states.keys()) for (const prefix of prefixes(key)) push(below, prefix, key);
    }
    const set: KeySet = { id: `\0set ${++setCount} ${prefix}`, match, reason: { kind: 'resource', label } };
    const changes = new Set<number>();
    for (const key of below.get(prefix) ?? []) {
      const state = states.get(key)!;
      const latest = state.mode === 'read' ? state.before : state.group;
      if (latest.length === 0) continue; // only read so far: tested if it ever changes
      if (match(key.slice(prefix.length))) for (const d of latest) changes.add(d);
    }
    if (changes.size) states.set(set.id, { mode: 'add', group: [...changes].sort((a, b) => a - b), before: [] });
    const atPrefix = sets.get(prefix) ?? new Map<KeySet['match'], KeySet>();
    sets.set(prefix, atPrefix.set(match, set));
    return set;
  };

  accesses.forEach((resources, step) => {
    for (const r of resources) {
      const reason: EdgeReason = { kind: 'resource', label: r.label };
      if (r.match) {
        // A set is only ever read, whatever `mode` says. The same rule on the same prefix is the same set.
        const set = sets.get(r.key)?.get(r.match) ?? newSet(r.key, r.match, r.label);
        access(set.id, 'read', step, reason);
        continue;
      }
      access(r.key, r.mode, step, reason);
      if (r.mode !== 'read' && sets.size) for (const set of holders(r.key)) access(set.id, 'add', step, set.reason);
    }
  });
  return edges;
}

/** `a:/x/y/z` → `a:/`, `a:/x/`, `a:/x/y/`: each prefix of a key that ends at a folder separator. */
function prefixes(key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < key.length; i++) if (key[i] === '/' || key[i] === '\\') out.push(key.slice(0, i + 1));
  return out;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
