/**
 * Generated parts of a hand-written page: everything between `<!-- generated:KIND ARGS -->` and
 * `<!-- /generated -->` is replaced by what `render(kind, args)` returns; the rest of the page is left as written.
 */
const BLOCK = /<!-- generated:(\S+)((?: [^\s>]+)*) -->\n[\s\S]*?<!-- \/generated -->/g;

export interface Marker {
  kind: string;
  args: string[];
}

/** The generated blocks of a page, in order; throws on a block whose end is missing. */
export function markersOf(page: string, file: string): Marker[] {
  const opened = page.match(/<!-- generated:/g)?.length ?? 0;
  const closed = page.match(/<!-- \/generated -->/g)?.length ?? 0;
  if (opened !== closed) throw new Error(`${file}: ${opened} \`<!-- generated:… -->\` but ${closed} \`<!-- /generated -->\``);
  return [...page.matchAll(BLOCK)].map((m) => ({ kind: m[1]!, args: m[2]!.trim() === '' ? [] : m[2]!.trim().split(' ') }));
}

/** The page with its blocks' contents replaced by `bodies`, in the order of `markersOf`. */
export function fill(page: string, bodies: readonly string[]): string {
  let index = 0;
  return page.replace(BLOCK, (_all, kind: string, rest: string) => `<!-- generated:${kind}${rest} -->\n${bodies[index++]!.replace(/\n*$/, '\n')}<!-- /generated -->`);
}

/** A table cell: one line, pipes escaped. */
export function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replaceAll('|', '\\|');
}

/** `text` as inline code, with a fence long enough for backticks inside it. */
export function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}
