/**
 * An `if` is a bare CEL expression, or exactly one `${ … }` with nothing around it. Text around a `${}`
 * (`if: ${a} && ${b}`, `if: "ok: ${x}"`) is refused rather than read as a string that is always true — the
 * GitHub Actions pitfall (actions/runner#1173). A `${` inside a CEL string literal is just text.
 */

export type Unwrapped = { ok: true; expression: string; offset: number } | { ok: false; offset: number; message: string; hint: string };

const BARE_HINT = 'write the expression bare, e.g. `if: steps.check.output.n > 1 && inputs.mode != "dry-run"`; conditions read `steps`, `inputs` and `env` directly';

/** The expression to evaluate, and its offset in `text`; or why `text` is not one. */
export function unwrapCondition(text: string): Unwrapped {
  const opens: number[] = [];
  // Where each `{` outside strings is closed, by the offset of the `{`.
  const closes = new Map<number, number>();
  const stack: number[] = [];
  for (const i of outsideStrings(text)) {
    const ch = text[i];
    if (ch === '$' && text[i + 1] === '{') opens.push(i);
    else if (ch === '{') stack.push(i);
    else if (ch === '}' && stack.length > 0) closes.set(stack.pop()!, i);
  }
  if (opens.length === 0) return { ok: true, expression: text, offset: 0 };
  const first = opens[0]!;
  const around = { ok: false as const, offset: first, message: 'text around `${…}`: an `if` is one expression, bare or in exactly one `${ … }` with nothing around it', hint: BARE_HINT };
  const close = closes.get(first + 1);
  if (close === undefined) return { ok: false, offset: first, message: 'unterminated `${`: expected a closing `}`', hint: BARE_HINT };
  if (opens.length > 1 || text.slice(0, first).trim() !== '' || text.slice(close + 1).trim() !== '') return around;
  const expression = text.slice(first + 2, close);
  const inner = expression.trim();
  // `${{ steps.a.output }}`: a second pair of braces (a map literal would have a `:` in it).
  const start = first + 2 + expression.indexOf(inner);
  if (inner.startsWith('{') && closes.get(start) === start + inner.length - 1 && ![...outsideStrings(inner)].some((i) => inner[i] === ':')) {
    return { ok: false, offset: first, message: '`${{` opens the condition with two braces', hint: 'write it bare, or in one pair: `${ steps.a.output.ok }`' };
  }
  return { ok: true, expression, offset: first + 2 };
}

/**
 * The offsets of `text` outside CEL string literals: `"…"`, `'…'`, their triple-quoted forms, with `\`
 * escapes except in raw strings (`r"…"`, also with the bytes prefix `b`).
 */
export function* outsideStrings(text: string): Generator<number> {
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch !== '"' && ch !== "'") {
      yield i++;
      continue;
    }
    const prefix = /[rRbB]{1,2}$/.exec(text.slice(Math.max(0, i - 2), i))?.[0] ?? '';
    const before = text[i - prefix.length - 1];
    const raw = /[rR]/.test(prefix) && (before === undefined || !/[\w.]/.test(before));
    const quote = text.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
    i += quote.length;
    while (i < text.length && !text.startsWith(quote, i)) i += !raw && text[i] === '\\' ? 2 : 1;
    i += quote.length;
  }
}
