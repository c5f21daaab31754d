/**
 * Maps paths in the parsed document (`['steps', 2, 'llm', 'prompt']`) back to lines and columns, so every
 * problem can be reported where the user wrote it.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { SourceLocation } from '../core/errors.ts';
import type { PathKey } from '../template/parse.ts';

export class SourceFile {
  readonly file: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  readonly #lines: LineCounter;

  constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    this.#lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true });
  }

  at(offset: number): SourceLocation {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /**
   * Where the value at `path` is written; with `key: true`, where its key is (for "unknown key" errors).
   * A path that does not exist points at the deepest part that does.
   */
  locate(path: readonly PathKey[], options: { key?: boolean } = {}): SourceLocation {
    const found = this.#walk(path);
    const node = options.key && found.pair && found.complete ? (found.pair.key as Node) : found.node;
    return this.at(node?.range?.[0] ?? 0);
  }

  /** Where the reference `raw` sits inside the string at `path` (`offset` is its place in the parsed string). */
  locateInString(path: readonly PathKey[], offset: number, raw: string): SourceLocation {
    const { node, complete } = this.#walk(path);
    const range = node?.range;
    if (!complete || !range || !isScalar(node)) return this.at(range?.[0] ?? 0);
    // The parsed string and its source differ by quoting, escapes and block indentation, but a reference is
    // written verbatim: find it in the source, nearest to where the parsed offset suggests.
    const [start, end] = range;
    const guess = start + offset;
    let best = -1;
    for (let at = this.text.indexOf(raw, start); at !== -1 && at < end; at = this.text.indexOf(raw, at + 1)) {
      if (best === -1 || Math.abs(at - guess) < Math.abs(best - guess)) best = at;
    }
    return this.at(best === -1 ? start : best);
  }

  #walk(path: readonly PathKey[]): { node: Node | undefined; pair?: Pair; complete: boolean } {
    let node = this.doc.contents as Node | null;
    let pair: Pair | undefined;
    for (const key of path) {
      if (isMap(node)) {
        const found = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
        if (!found) return { node, complete: false };
        pair = found;
        node = (found.value as Node | null) ?? (found.key as Node);
      } else if (isSeq(node) && typeof key === 'number') {
        const item = node.items[key] as Node | undefined;
        if (!item) return { node, complete: false };
        pair = undefined;
        node = item;
      } else {
        return { node: node ?? undefined, complete: false };
      }
    }
    return { node: node ?? undefined, ...(pair ? { pair } : {}), complete: true };
  }
}
