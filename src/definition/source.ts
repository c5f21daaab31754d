/**
 * Maps paths in the parsed document (`['steps', 2, 'llm', 'prompt']`) back to lines and columns, so every
 * problem can be reported where the user wrote it.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { CST, Document, LineCounter, Node, Pair } from 'yaml';
import type { SourceLocation } from '../core/errors.ts';
import type { PathKey } from '../template/parse.ts';
import { MAX_DEPTH } from './depth.ts';

/**
 * The `yaml` package, loaded on first use: the fast path (fast-parse.ts) reads a valid workflow without it,
 * and its 72 modules cost ~20 ms of a `validate` process. Its Node build is CommonJS, so this is the same
 * instance an `import` of it gives.
 */
let loaded: typeof Yaml | undefined;
export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * What the checks ask of a source: where a value, an item or a reference is written. A SourceFile answers at
 * once; the fast path's DeferredSource (deferred-source.ts) answers when a line or column is first read.
 */
export type Locator = Pick<SourceFile, 'file' | 'at' | 'locate' | 'locateItems' | 'locateInString' | 'locateInValue'>;

export class SourceFile {
  readonly file: string;
  readonly text: string;
  /** Empty when the text nests too deeply (see `tooDeepAt`): it is not composed at all then. */
  readonly doc: Document.Parsed;
  /** Where the text first nests lists and maps more than MAX_DEPTH deep: parsing stopped there. */
  readonly tooDeepAt: number | undefined;
  /** Whether the text may hold an alias (`*name`); if it does not, its values nest no deeper than its text. */
  readonly mayHaveAliases: boolean;
  readonly #lines: LineCounter;

  constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    this.#lines = new (yaml().LineCounter)();
    const parsed = withPlainEnv(() => parseBounded(text, this.#lines));
    this.doc = parsed.doc;
    this.tooDeepAt = parsed.tooDeepAt;
    this.mayHaveAliases = parsed.mayHaveAliases;
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

  /** Where each item of the list at `path` is written: one walk for all of them, not one per item. */
  locateItems(path: readonly PathKey[]): SourceLocation[] {
    const { node, complete } = this.#walk(path);
    if (!complete || !yaml().isSeq(node)) return [];
    return node.items.map((item) => this.at((item as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0));
  }

  /** Where the reference `raw` sits inside the string at `path` (`offset` is its place in the parsed string). */
  locateInString(path: readonly PathKey[], offset: number, raw: string): SourceLocation {
    const { node, complete } = this.#walk(path);
    const range = node?.range;
    if (!complete || !range || !yaml().isScalar(node)) return this.at(range?.[0] ?? 0);
    // The parsed string and its source differ by quoting, escapes and block indentation, but a reference is
    // written verbatim: find it in the source, nearest to where the parsed offset suggests.
    const [start, end] = range;
    // Search the scalar's own text: searching the whole file from `start` would scan to its end every time.
    const written = this.text.slice(start, end);
    let best = -1;
    for (let at = written.indexOf(raw); at !== -1; at = written.indexOf(raw, at + 1)) {
      if (best === -1 || Math.abs(at - offset) < Math.abs(best - offset)) best = at;
    }
    return this.at(start + Math.max(best, 0));
  }

  /**
   * Where character `offset` of the string at `path` is written, for a position inside a longer text (a CEL
   * syntax error in an `if`). Quoting, escapes, folding and block indentation change only whitespace and
   * escapes, so the n-th character that is not whitespace in the parsed string is the n-th written one,
   * counting an escape (`\"`, `\u00e9`, `''`) as the one character it stands for.
   */
  locateInValue(path: readonly PathKey[], offset: number): SourceLocation {
    const { node, complete } = this.#walk(path);
    const range = node?.range;
    if (!complete || !range || !yaml().isScalar(node) || typeof node.value !== 'string') return this.at(range?.[0] ?? 0);
    const value = node.value;
    let wanted = 0;
    for (let i = 0; i < Math.min(offset, value.length); i++) if (!WHITESPACE.test(value[i]!)) wanted++;
    const [start, end] = range;
    const text = this.text;
    const type = node.type;
    let i = start;
    if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') i++;
    else if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') i = Math.max(text.indexOf('\n', start) + 1, start);
    const close = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? end - 1 : end;
    let last = i;
    while (i < close) {
      const ch = text[i]!;
      if (WHITESPACE.test(ch)) {
        i++;
        continue;
      }
      let length = 1;
      let units = 1;
      if (type === 'QUOTE_DOUBLE' && ch === '\\') [length, units] = escapeAt(text, i);
      else if (type === 'QUOTE_SINGLE' && ch === "'" && text[i + 1] === "'") length = 2;
      if (units > 0) {
        if (wanted <= 0) return this.at(i);
        wanted -= units;
      }
      i += length;
      last = i;
    }
    return this.at(last);
  }

  #walk(path: readonly PathKey[]): { node: Node | undefined; pair?: Pair; complete: boolean } {
    let node = this.doc.contents as Node | null;
    let pair: Pair | undefined;
    for (const key of path) {
      if (yaml().isMap(node)) {
        // Keys as the parsed document has them: a null key is '', and a key written as a map or list
        // (`? [a, b]`) reaches the checks as its flow text, `[ a, b ]`.
        const text = String(key);
        const found =
          node.items.find((p) => yaml().isScalar(p.key) && (p.key.value === null ? '' : String(p.key.value)) === text) ??
          (/^[[{]/.test(text) ? node.items.find((p) => yaml().isCollection(p.key)) : undefined);
        if (!found) return { node, complete: false };
        pair = found;
        node = (found.value as Node | null) ?? (found.key as Node);
      } else if (yaml().isSeq(node) && typeof key === 'number') {
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

/**
 * yaml's `parseDocument`, with the parser's stack watched as it reads: the CST parser is iterative, but the
 * composer after it recurses, and a parser fed 50,000 `[` takes seconds. Stopping at MAX_DEPTH nested
 * collections costs one comparison per token for any sane file.
 */
function parseBounded(text: string, lines: LineCounter): { doc: Document.Parsed; tooDeepAt?: number; mayHaveAliases: boolean } {
  const parser = new (yaml().Parser)(lines.addNewLine);
  let tooDeepAt: number | undefined;
  let mayHaveAliases = false;
  function* tokens(): Generator<CST.Token> {
    lines.addNewLine(0);
    for (const lexeme of new (yaml().Lexer)().lex(text)) {
      yield* parser.next(lexeme);
      // `*` begins an alias wherever it begins a token (elsewhere it is inside a quoted or block scalar).
      if (lexeme.charCodeAt(0) === 42) mayHaveAliases = true;
      if (parser.stack.length > MAX_DEPTH) {
        const open = parser.stack.filter((token) => COLLECTIONS.has(token.type));
        if (open.length > MAX_DEPTH) {
          tooDeepAt = open[MAX_DEPTH]!.offset;
          return;
        }
      }
    }
    yield* parser.end();
  }
  // logLevel 'error': the parser's warnings are reported as diagnostics (see load.ts), never printed by it.
  const composer = new (yaml().Composer)({ prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  let doc: Document.Parsed | undefined;
  for (const next of composer.compose(tokens(), true, text.length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(new (yaml().YAMLParseError)([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
      break;
    }
  }
  return { doc: doc!, ...(tooDeepAt === undefined ? {} : { tooDeepAt }), mayHaveAliases };
}

/**
 * Runs `parse` with `process.env` swapped for a plain copy. The `yaml` parser looks up
 * `process.env.LOG_TOKENS` once per token (a debugging switch), and on `process.env` every lookup is a call
 * into the runtime: measured at ~40 % of the parser's time on a 10,000-step file. The swap lasts one
 * synchronous call, so no other code can see it, and any value the parse reads is the same as in the original.
 */
function withPlainEnv<T>(parse: () => T): T {
  const env = process.env;
  process.env = { ...env };
  try {
    return parse();
  } finally {
    process.env = env;
  }
}

const WHITESPACE = /\s/;
const ESCAPES: Record<string, string> = { '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029' };
const HEX_DIGITS: Record<string, number> = { x: 2, u: 4, U: 8 };

/**
 * A double-quoted escape at `i`: how many characters it is written with, and how many characters that are not
 * whitespace it stands for in the parsed string (UTF-16 units: 2 for `\U0001F600`, 0 for `\t`).
 */
function escapeAt(text: string, i: number): [number, number] {
  const next = text[i + 1];
  if (next === undefined) return [1, 1];
  // A `\` before a line break joins the lines: it stands for nothing.
  if (next === '\n' || next === '\r') return [2, 0];
  const digits = HEX_DIGITS[next];
  if (digits !== undefined) {
    const code = Number.parseInt(text.slice(i + 2, i + 2 + digits), 16);
    if (!Number.isFinite(code) || code > 0x10ffff) return [2 + digits, 1];
    const char = String.fromCodePoint(code);
    return [2 + digits, WHITESPACE.test(char) ? 0 : char.length];
  }
  const char = ESCAPES[next];
  return [2, char !== undefined && WHITESPACE.test(char) ? 0 : 1];
}
