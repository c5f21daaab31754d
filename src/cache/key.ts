/**
 * The step cache's key: a hash of what a step would send, never of where the step is. Two steps, or two
 * workflows, that send the same request get the same key, and so share one entry.
 */
import { hash } from 'node:crypto';
import type { AnyAction } from '../actions/types.ts';

/** Bumped when what goes into a key changes: entries made under the old rule are then never found. */
const FORMAT = 2;

/**
 * `<action>:<sha256>` of the action's name and `version`, its `identity` (what defaults fill in: an `llm` step's
 * effective model and endpoint) and the resolved input, as canonical JSON. A value in the input that is a
 * secret (an `authorization` header) is in the hash, never in the key or the store: another credential is
 * another request, and never gets this one's answer. The action's name leads, for `cache stats` and a reader
 * of the store. `folder`: the workflow's folder, for an action whose relative paths resolve in it (a `file`
 * read of `data.txt` in one workflow is not one in another). Throws when the input cannot be written as JSON.
 */
export function cacheKey(action: AnyAction, input: unknown, identity: unknown, folder?: string): string {
  // The block's own keys in one order (`{ prompt, model }` is `{ model, prompt }`); what they hold as written:
  // a schema whose properties come in another order is another request, and may get another answer.
  const block = input !== null && typeof input === 'object' && !Array.isArray(input) ? Object.fromEntries(Object.entries(input).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : input;
  const what = [FORMAT, action.name, action.version ?? 1, identity ?? null, block, ...(folder === undefined ? [] : [folder])];
  return `${action.name}:${hash('sha256', JSON.stringify(what))}`;
}
