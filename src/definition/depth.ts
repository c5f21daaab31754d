/**
 * How deeply a workflow may nest lists and maps. Everything that reads a workflow's values walks them
 * recursively (yaml's composer and `toJS`, the schema check, template compilation, ajv for a `schema`,
 * JSON.stringify for the record), so a file of 50,000 `[` would overflow the stack in one of them, after
 * seconds of parsing. The limit is checked while the parser reads, so such a file is refused after its first
 * few hundred characters.
 *
 * Why 100: the deepest data people write in a workflow is a JSON Schema for structured output or an HTTP body,
 * about 10–20 levels even when generous; the first consumer to overflow (yaml's composer) does so near 800
 * levels of flow lists on Node's default stack, fewer when Conductor is called from deep in another program.
 * 100 is five times the first and an eighth of the second.
 */
import type { PathKey } from '../template/parse.ts';

export const MAX_DEPTH = 100;

export function tooDeepMessage(): { code: string; message: string; hint: string } {
  return {
    code: 'too_deep',
    message: `nested too deeply: more than ${MAX_DEPTH} levels of lists and maps`,
    hint: `a workflow may nest lists and maps ${MAX_DEPTH} deep; flatten the data, or keep it in a file and read it with a \`file\` step`,
  };
}

export type DepthProblem = { kind: 'too_deep' | 'cycle'; path: PathKey[] };

/**
 * The first place where a parsed value nests deeper than MAX_DEPTH, or contains itself. The text was already
 * checked as it was parsed; this is for aliases, which can repeat a deep part inside another (`*a` in
 * `&b [*a]`) or inside itself (`&a [*a]`, which `toJS` turns into a circular value). Iterative: it must not
 * overflow the stack on what it is there to catch.
 */
export function depthProblem(value: unknown): DepthProblem | undefined {
  // Depth-first with an explicit stack: `open` holds the containers on the current path, `path` their keys.
  const open = new Set<object>();
  const path: PathKey[] = [];
  const stack: { value: unknown; key: PathKey | undefined; exit: boolean }[] = [{ value, key: undefined, exit: false }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.exit) {
      open.delete(frame.value as object);
      if (frame.key !== undefined) path.pop();
      continue;
    }
    if (frame.value === null || typeof frame.value !== 'object') continue;
    if (open.has(frame.value)) return { kind: 'cycle', path: [...path, frame.key!] };
    if (open.size >= MAX_DEPTH) return { kind: 'too_deep', path: [...path, frame.key!] };
    if (frame.key !== undefined) path.push(frame.key);
    open.add(frame.value);
    stack.push({ ...frame, exit: true });
    // Only containers go on the stack: a list of two million numbers costs no frame per number.
    if (Array.isArray(frame.value)) {
      for (let i = frame.value.length - 1; i >= 0; i--) {
        const item: unknown = frame.value[i];
        if (item !== null && typeof item === 'object') stack.push({ value: item, key: i, exit: false });
      }
    } else {
      const entries = Object.entries(frame.value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const item = entries[i]![1];
        if (item !== null && typeof item === 'object') stack.push({ value: item, key: entries[i]![0], exit: false });
      }
    }
  }
  return undefined;
}
