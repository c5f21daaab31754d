/**
 * The fast path's parser: a workflow's text → the plain value `yaml` would give it (see source.ts), from
 * js-yaml's event stream, without building a Document or any position. It only ever answers for text where
 * the two parsers are known to agree, and declines (undefined) for everything else: anchors and aliases,
 * tags, directives, a second document, a key that is not a scalar, a duplicate key, tabs, control or
 * unusual characters, a flow collection closed at its parent's indentation (a warning in `yaml`), and the
 * corners where the two were found to differ (see the adversarial-16 tests): `\U` escapes, escaped line
 * breaks, empty implicit keys, `...` and `%` lines, block scalars with an indentation indicator or an
 * unterminated last line, a comment at a lower indentation after a blank line; anything js-yaml rejects.
 * A declined text goes to the located path, which is the only one that reports problems.
 *
 * Scalars are resolved here with `yaml`'s core-schema rules (copied from yaml/dist/schema/core), not
 * js-yaml's, so `0o17`, `.inf`, `~`, `yes` or `1_000` mean what they mean on the located path.
 */
import { EVENT_ID, getScalarValue, parseEvents, SCALAR_STYLE, type Event, type ScalarEvent } from 'js-yaml';
import { MAX_DEPTH } from './depth.ts';

/**
 * Characters both parsers read the same way: printable ASCII, line feeds (and CRLF, checked apart) and
 * printable Unicode. Tabs, a byte-order mark, NEL, U+2028/9, other controls and lone surrogates decline.
 */
const UNUSUAL = /[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]|\r(?!\n)/u;
/**
 * Lines that decline the text: `]` or `}` first (`yaml` warns when it closes a flow collection at its parent's
 * indentation); `:` then no space first (in a flow map after a comment, js-yaml takes it for the value
 * indicator, `yaml` asks for a space); `...` (js-yaml skips an empty document it ends, `yaml` counts a second
 * one); `%` (js-yaml ignores an unknown directive, `yaml` warns).
 */
const DECLINED_LINE = /^(?: *[\]}]| *:[^ \r\n]|\.\.\.|%)/m;
/**
 * A blank line, then a comment, then a line indented deeper than the comment: after a blank line `yaml` lets
 * a comment at a lower indentation end the value's indentation, so a plain scalar that follows can run on
 * into the next key ("Implicit keys need to be on a single line") where js-yaml reads it as the value.
 */
const COMMENT_BELOW_VALUE = /^ *\r?\n( *)#.*\r?\n(?: *(?:#.*)?\r?\n)*\1 +[^ \r\n]/m;

export function parsePlain(text: string): { value: unknown } | undefined {
  if (UNUSUAL.test(text) || DECLINED_LINE.test(text) || COMMENT_BELOW_VALUE.test(text)) return undefined;
  let events: Event[];
  try {
    events = parseEvents(text, { maxDepth: MAX_DEPTH });
  } catch {
    return undefined;
  }
  const document = events[0];
  // One document, no directives (`%YAML`, `%TAG`), not ended with `...` (a `---` first is fine).
  if (document?.type !== EVENT_ID.DOCUMENT || document.directives.length > 0 || document.explicitEnd) return undefined;
  if (events[events.length - 1]?.type !== EVENT_ID.POP || events.length < 3) return undefined;
  // A bare scalar is never a workflow, and at the root the two differ (on `  ---`, or `#` lines in a block scalar).
  if (events[1]?.type === EVENT_ID.SCALAR) return undefined;
  return build(text, events);
}

type Frame = { kind: 'seq'; value: unknown[] } | { kind: 'map'; value: Record<string, unknown>; key: string | undefined };

/** The events of one document (after its DOCUMENT event, through its POP) → the value; undefined to decline. */
function build(text: string, events: Event[]): { value: unknown } | undefined {
  const stack: Frame[] = [];
  let root: { value: unknown } | undefined;
  // Places a finished value in its parent; false when it cannot be placed the way `yaml` would.
  const place = (value: unknown, isKey: boolean): boolean => {
    const top = stack[stack.length - 1];
    if (!top) {
      root = { value };
      return true;
    }
    if (top.kind === 'seq') {
      top.value.push(value);
      return true;
    }
    if (top.key === undefined) {
      // A key: a scalar, stringified as `yaml`'s toJS does (null → '', numbers and booleans as written by String).
      if (!isKey) return false;
      const key = value === null ? '' : String(value);
      if (key === '__proto__' || Object.hasOwn(top.value, key)) return false;
      top.key = key;
      return true;
    }
    top.value[top.key] = value;
    top.key = undefined;
    return true;
  };
  for (let i = 1; i < events.length; i++) {
    const event = events[i]!;
    switch (event.type) {
      case EVENT_ID.SCALAR:
        if (event.anchorStart !== -1 || event.tagStart !== -1) return undefined;
        if (awaitsKey(stack) && !plainKey(text, event)) return undefined;
        if (!sameScalar(text, event)) return undefined;
        if (!place(scalarValue(text, event), true)) return undefined;
        break;
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING: {
        if (event.anchorStart !== -1 || event.tagStart !== -1) return undefined;
        // A list or map as a key (`? [a, b]`): `yaml` writes it as flow text; leave that to it.
        if (awaitsKey(stack)) return undefined;
        stack.push(event.type === EVENT_ID.SEQUENCE ? { kind: 'seq', value: [] } : { kind: 'map', value: {}, key: undefined });
        break;
      }
      case EVENT_ID.POP: {
        const done = stack.pop();
        // The document's own POP: it must be the last event (one document in the file).
        if (!done) return i === events.length - 1 ? root : undefined;
        if (done.kind === 'map' && done.key !== undefined) return undefined;
        if (!place(done.value, false)) return undefined;
        break;
      }
      default:
        // An alias, or a second document.
        return undefined;
    }
  }
  return undefined;
}

function awaitsKey(stack: Frame[]): boolean {
  const top = stack[stack.length - 1];
  return top?.kind === 'map' && top.key === undefined;
}

/**
 * A key `yaml` surely takes as js-yaml does: on one line and short (an implicit key may not span lines, nor be
 * longer than 1,024 characters; js-yaml allows a long one).
 */
function plainKey(text: string, event: ScalarEvent): boolean {
  // An empty implicit key (`: a: b`, `: - x`): js-yaml takes a compact collection as its value, `yaml` does not.
  if (event.valueStart === -1 && event.style === SCALAR_STYLE.PLAIN) return false;
  if (event.valueEnd - event.valueStart > 1000) return false;
  const newline = text.indexOf('\n', event.valueStart);
  return newline === -1 || newline >= event.valueEnd;
}

/**
 * False for the scalars js-yaml reads differently from `yaml`: in double quotes, a `\U` escape (js-yaml
 * accepts one past U+10FFFF) or an escaped line break (js-yaml drops the empty lines after it); a block
 * scalar with an indentation indicator (js-yaml keeps a line of spaces past it) or whose last line is not
 * ended (js-yaml counts a last line of spaces as a kept line break).
 */
function sameScalar(text: string, event: ScalarEvent): boolean {
  switch (event.style) {
    case SCALAR_STYLE.DOUBLE_QUOTED:
      return !/\\(?:U|\r?\n)/.test(text.slice(event.valueStart, event.valueEnd));
    case SCALAR_STYLE.LITERAL_BLOCK:
    case SCALAR_STYLE.FOLDED_BLOCK: {
      // The header is the line before the content: `|`, `>`, then chomping and indentation indicators.
      const header = text.slice(text.lastIndexOf('\n', event.valueStart - 2) + 1, event.valueStart);
      return !/[|>][-+]?[0-9]/.test(header) && (event.valueEnd <= event.valueStart || text[event.valueEnd - 1] === '\n');
    }
    default:
      return true;
  }
}

function scalarValue(text: string, event: ScalarEvent): unknown {
  const source = getScalarValue(text, event);
  return event.style === SCALAR_STYLE.PLAIN ? resolvePlain(source) : source;
}

/** The first characters of a null, a boolean or a number in the core schema. */
const MAY_RESOLVE = /^[~+\-.0-9nNtTfF]/;

/** A plain scalar as `yaml`'s core schema resolves it (tags tried in the schema's order). */
export function resolvePlain(source: string): unknown {
  // Most plain scalars are words (`id: summarise`), which none of the patterns below can match.
  if (source !== '' && !MAY_RESOLVE.test(source)) return source;
  if (/^(?:~|[Nn]ull|NULL)?$/.test(source)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(source)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(source)) return false;
  if (/^0o[0-7]+$/.test(source)) return parseInt(source.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(source)) return parseInt(source, 10);
  if (/^0x[0-9a-fA-F]+$/.test(source)) return parseInt(source.substring(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(source)) {
    return source.slice(-3).toLowerCase() === 'nan' ? NaN : source[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(source)) return parseFloat(source);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(source)) return parseFloat(source);
  return source;
}
