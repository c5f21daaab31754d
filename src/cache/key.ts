/**
 * The step cache's key: a hash of what a step would send, never of where the step is. Two steps, or two
 * workflows, that send the same request get the same key, and so share one entry.
 */
import { hash } from 'node:crypto';
import type { AnyAction } from '../actions/types.ts';

/** Bumped when what goes into a key changes: entries made under the old rule are then never found. */
const FORMAT = 1;

/**
 * `<action>:<sha256>` of the action's name and `version`, its `identity` (what defaults fill in: an `llm` step's
 * effective model and endpoint) and the resolved input, as canonical JSON. A value in the input that is a
 * secret (an `authorization` header) is in the hash, never in the key or the store: another credential is
 * another request, and never gets this one's answer. The action's name leads, for `cache stats` and a reader
 * of the store. `folder`: the workflow's folder, for an action whose relative paths resolve in it (a `file`
 * read of `data.txt` in one workflow is not one in another). Throws when the input cannot be written as JSON.
 */
export function cacheKey(action: AnyAction, input: unknown, identity: unknown, folder?: string): string {
  const what = [FORMAT, action.name, action.version ?? 1, identity ?? null, input, ...(folder === undefined ? [] : [folder])];
  return `${action.name}:${hash('sha256', canonicalJson(what))}`;
}

/** JSON with every object's keys sorted: the same value always gives the same text, however it was built. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
