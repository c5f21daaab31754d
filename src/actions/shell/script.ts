/**
 * A command line for a real shell (`shell: bash` or `sh`) whose references are passed as environment variables,
 * never pasted: each `${inputs.x}` becomes a reference to a variable the child's environment holds
 * (`CONDUCTOR_ARG_1`), quoted for where it sits. A shell never reads an expansion's result as syntax, so a
 * value's quotes, `;`, `$(…)` or backticks stay text whatever this lexer concludes about the quoting: a
 * misjudged place can at worst split a value into words or leave it unexpanded, never run it.
 *
 * The lexer follows quotes, `$(…)`, `${…}`, backticks, comments and here-documents well enough to quote each
 * reference right in any script a person writes. Places where a variable's value is itself evaluated
 * (arithmetic: `$((…))`, `((…))`, an array subscript) or where nothing is expanded (a quoted here-document)
 * are refused: `validate` reports them.
 */

export type ShellName = 'bash' | 'sh';

/** How a reference is quoted where it sits: outside quotes, inside double quotes, inside `'…'` or `$'…'`. */
export type Site = 'bare' | 'double' | 'single' | 'ansi';

export interface ScriptSites {
  /** One per reference, in order (a refused one still gets a site). */
  readonly sites: readonly Site[];
  /** References that sit where no quoting makes a value safe or seen. */
  readonly problems: readonly { readonly index: number; readonly message: string }[];
}

type Frame =
  | { kind: 'top' | 'subst' | 'backtick' | 'double' | 'single' | 'ansi' | 'comment' | 'arith' | 'subscript' | 'offset'; depth: number }
  | { kind: 'param'; depth: number; start: number }
  | { kind: 'heredoc'; delimiter: string; strip: boolean; quoted: boolean };

interface Heredoc {
  delimiter: string;
  strip: boolean;
  quoted: boolean;
}

/** Where each reference sits in a script whose literal parts are `strings` (a tagged template's). */
export function scriptSites(strings: readonly string[], shell: ShellName): ScriptSites {
  const text = strings.join('');
  const holes: number[] = [];
  for (let s = 0, at = 0; s + 1 < strings.length; s++) holes.push((at += strings[s]!.length));
  const sites: Site[] = [];
  const problems: { index: number; message: string }[] = [];
  const stack: Frame[] = [{ kind: 'top', depth: 0 }];
  const pending: Heredoc[] = [];
  let h = 0; // the next reference not yet placed
  let i = 0;
  let wordStart = true;
  let lineStart = true;

  const top = () => stack[stack.length - 1]!;
  const place = (problem?: string) => {
    sites.push(siteOf(stack));
    const why = problem ?? problemOf(stack);
    if (why) problems.push({ index: h, message: why });
    h++;
  };
  /** `text[i + k]`, unless a reference comes first (then the text does not continue there). */
  const peek = (k: number) => (h < holes.length && holes[h]! <= i + k ? undefined : text[i + k]);
  /** Steps over `n` characters; a reference among them is placed with `problem`. */
  const skip = (n: number, problem?: string) => {
    i += n;
    while (h < holes.length && holes[h]! < i) place(problem);
  };
  const startHeredoc = () => {
    const next = pending.shift();
    if (next) stack.push({ kind: 'heredoc', ...next });
  };
  /** After `<<` or `<<-`: the delimiter word, with quotes removed; any quote means the body is not expanded. */
  const readDelimiter = (strip: boolean) => {
    while (text[i] === ' ' || text[i] === '\t') skip(1);
    let delimiter = '';
    let quoted = false;
    const problem = 'a reference cannot be (part of) a here-document\'s delimiter';
    while (i < text.length && !/[\s;&|<>()]/.test(text[i]!)) {
      if (h < holes.length && holes[h] === i) place(problem);
      const c = text[i]!;
      if (c === "'" || c === '"') {
        const close = text.indexOf(c, i + 1);
        const end = close < 0 ? text.length : close;
        delimiter += text.slice(i + 1, end);
        quoted = true;
        skip(end + 1 - i, problem);
      } else if (c === '\\') {
        delimiter += text[i + 1] ?? '';
        quoted = true;
        skip(2, problem);
      } else {
        delimiter += c;
        skip(1, problem);
      }
    }
    if (h < holes.length && holes[h] === i) place(problem);
    pending.push({ delimiter, strip, quoted });
  };

  while (i <= text.length) {
    const frame = top();
    if (frame.kind === 'heredoc' && lineStart) {
      const end = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
      const line = text.slice(i, end);
      const holeInLine = h < holes.length && holes[h]! <= end;
      if (!holeInLine && (frame.strip ? line.replace(/^\t+/, '') : line) === frame.delimiter) {
        stack.pop();
        skip(end + 1 - i);
        startHeredoc();
        lineStart = true;
        wordStart = true;
        continue;
      }
    }
    while (h < holes.length && holes[h] === i) {
      place();
      wordStart = false;
      lineStart = false;
    }
    if (i >= text.length) break;
    const c = text[i]!;
    lineStart = false;
    switch (frame.kind) {
      case 'single':
        if (c === "'") stack.pop();
        skip(1);
        break;
      case 'ansi':
        if (c === "'") stack.pop();
        skip(escapes(c));
        break;
      case 'comment':
        if (c === '\n') stack.pop(); // the newline is the command's: it may start here-documents
        else skip(1);
        break;
      case 'heredoc':
        if (c === '\n') lineStart = true;
        if (frame.quoted || !expansion(c)) skip(escapes(frame.quoted ? '' : c));
        break;
      case 'double':
        if (c === '"') {
          stack.pop();
          skip(1);
        } else if (!expansion(c)) skip(escapes(c));
        break;
      case 'arith':
      case 'subscript':
        if (frame.kind === 'subscript' && c === ']') stack.pop();
        else if (c === '(') frame.depth++;
        else if (c === ')' && frame.depth > 0) frame.depth--;
        else if (c === ')' && frame.kind === 'arith' && peek(1) === ')') {
          stack.pop();
          skip(1);
        } else if (expansion(c)) break;
        skip(escapes(c));
        break;
      case 'offset':
        // `${s:off:len}`: arithmetic up to the `}` that closes the expansion (which `param` then reads).
        if (c === '}' && frame.depth === 0) stack.pop();
        else {
          if (c === '{') frame.depth++;
          if (c === '}') frame.depth--;
          if (!expansion(c)) skip(escapes(c));
        }
        break;
      case 'param':
        if (c === ':' && frame.depth === 0 && /^([A-Za-z_][A-Za-z0-9_]*(\[[@*]\])?|[@*]|[0-9]+)$/.test(text.slice(frame.start, i)) && !/[-=?+]/.test(peek(1) ?? '')) {
          stack.push({ kind: 'offset', depth: 0 }); // `${s:${…}}`, `${@:…}`: a substring's offset and length are arithmetic
          skip(1);
        } else if (c === '}' && frame.depth === 0) {
          stack.pop();
          skip(1);
        } else if (c === '[' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text.slice(frame.start, i))) {
          stack.push({ kind: 'subscript', depth: 0 }); // `${a[…]}`: an indexed array's subscript is arithmetic
          skip(1);
        } else if (c === "'" && !insideDouble(stack)) {
          stack.push({ kind: 'single', depth: 0 });
          skip(1);
        } else if (c === '"') {
          stack.push({ kind: 'double', depth: 0 });
          skip(1);
        } else if (!expansion(c)) {
          if (c === '{') frame.depth++;
          if (c === '}') frame.depth--;
          skip(escapes(c));
        }
        break;
      case 'top':
      case 'subst':
      case 'backtick':
        command(c, frame);
        break;
    }
  }
  // A reference past the end (none is, but the count must match the references).
  while (h < holes.length) place();
  return { sites, problems };

  /** A backslash escapes the next character (a reference right after it would lose its quoting). */
  function escapes(c: string): number {
    if (c !== '\\') return 1;
    if (h < holes.length && holes[h] === i + 1) {
      problems.push({ index: h, message: 'a backslash just before a reference would escape its quoting: remove it (a value is passed as it is)' });
      return 1; // the text after the reference is read on its own
    }
    return 2;
  }

  /** `$…` or a backtick at `text[i]`: pushes the frame it opens and steps over it; false if it opens none. */
  function expansion(c: string): boolean {
    if (c === '`') {
      const frame = top();
      if (frame.kind === 'backtick') stack.pop();
      else stack.push({ kind: 'backtick', depth: 0 });
      skip(1);
      return true;
    }
    if (c !== '$') return false;
    if (peek(1) === '(' && peek(2) === '(') {
      stack.push({ kind: 'arith', depth: 0 });
      skip(3);
    } else if (peek(1) === '(') {
      stack.push({ kind: 'subst', depth: 0 });
      skip(2);
    } else if (peek(1) === '{') {
      stack.push({ kind: 'param', depth: 0, start: i + 2 });
      skip(2);
    } else if (peek(1) === '[' && shell === 'bash') {
      stack.push({ kind: 'subscript', depth: 0 }); // `$[ … ]`: bash's old arithmetic
      skip(2);
    } else if (peek(1) === "'" && shell === 'bash' && !insideDouble(stack) && top().kind !== 'heredoc') {
      stack.push({ kind: 'ansi', depth: 0 });
      skip(2);
    } else skip(1);
    return true;
  }

  /** A character where a command is read (the script itself, `$(…)`, backticks). */
  function command(c: string, frame: Frame & { depth: number }): void {
    const wasStart = wordStart;
    wordStart = /[\s;&|()<>]/.test(c);
    if (c === '\n') {
      skip(1);
      lineStart = true;
      startHeredoc();
    } else if (c === "'") {
      stack.push({ kind: 'single', depth: 0 });
      skip(1);
    } else if (c === '"') {
      stack.push({ kind: 'double', depth: 0 });
      skip(1);
    } else if (c === '#' && wasStart) {
      stack.push({ kind: 'comment', depth: 0 });
      skip(1);
    } else if (c === '(' && shell === 'bash' && wasStart && peek(1) === '(') {
      stack.push({ kind: 'arith', depth: 0 }); // `(( … ))`, bash's arithmetic command
      skip(2);
    } else if (c === '[' && shell === 'bash' && /(^|[\s;&|(])[A-Za-z_][A-Za-z0-9_]*$|\($/.test(text.slice(0, i))) {
      // `a[…]=…` and `a=([…]=…)`: an indexed array's subscript, being assigned, is arithmetic.
      stack.push({ kind: 'subscript', depth: 0 });
      skip(1);
    } else if (c === '(' && frame.kind === 'subst') {
      frame.depth++;
      skip(1);
    } else if (c === ')' && frame.kind === 'subst') {
      if (frame.depth === 0) stack.pop();
      else frame.depth--;
      skip(1);
    } else if (c === '<' && peek(1) === '<' && peek(2) === '<') {
      skip(3); // a here-string: a word like any other
    } else if (c === '<' && peek(1) === '<') {
      const strip = peek(2) === '-';
      skip(strip ? 3 : 2);
      readDelimiter(strip);
    } else if (!expansion(c)) {
      skip(escapes(c));
    }
  }
}

function insideDouble(stack: readonly Frame[]): boolean {
  for (let k = stack.length - 1; k >= 0; k--) {
    const kind = stack[k]!.kind;
    if (kind === 'double' || kind === 'heredoc') return true;
    if (kind !== 'param') return false;
  }
  return false;
}

function siteOf(stack: readonly Frame[]): Site {
  const frame = stack[stack.length - 1]!;
  switch (frame.kind) {
    case 'single':
      return 'single';
    case 'ansi':
      return 'ansi';
    case 'double':
    case 'heredoc':
      return 'double';
    case 'param':
      return insideDouble(stack) ? 'double' : 'bare';
    default:
      return 'bare';
  }
}

function problemOf(stack: readonly Frame[]): string | undefined {
  if (stack.some((f) => f.kind === 'arith' || f.kind === 'subscript' || f.kind === 'offset')) {
    return 'a reference inside arithmetic (`$((…))`, `$[…]`, `((…))`, an array subscript, a substring\'s offset) would have its value evaluated as an expression: check or convert the value first, outside the arithmetic';
  }
  const frame = stack[stack.length - 1]!;
  if (frame.kind === 'heredoc' && frame.quoted) return `a here-document with a quoted delimiter (\`<<'${frame.delimiter}'\`) expands nothing, so a reference in it cannot be passed: unquote the delimiter`;
  return undefined;
}

/** The variable that carries reference `index` (0-based) into the child's environment. */
export function argVariable(index: number): string {
  return `CONDUCTOR_ARG_${index + 1}`;
}

/** Variables a workflow's `env` may not set: the ones `shellScript` fills. */
export const RESERVED_PREFIX = 'CONDUCTOR_ARG_';

/**
 * The script to run and the variables that carry its values. Throws when a reference sits where no value can
 * be passed (see `scriptSites`; `validate` reports the same).
 */
export function shellScript(strings: readonly string[], values: readonly string[], shell: ShellName): { script: string; vars: Record<string, string> } {
  const { sites, problems } = scriptSites(strings, shell);
  if (problems.length) throw new Error(problems[0]!.message);
  let script = strings[0]!;
  const vars: Record<string, string> = {};
  values.forEach((value, k) => {
    const name = argVariable(k);
    vars[name] = value;
    script += variableReference(name, sites[k]!) + strings[k + 1]!;
  });
  return { script, vars };
}

/**
 * A reference to variable `name` that expands to its value, whole and as text, where `site` says it sits. Put
 * where another site is (a misjudged quote), it still holds only a `$`, a name, braces and quotes: the value may
 * then be split into words or left unexpanded, but never read as syntax.
 */
export function variableReference(name: string, site: Site): string {
  switch (site) {
    case 'bare':
      return `"\${${name}}"`;
    case 'double':
      return `\${${name}}`;
    case 'single':
      return `'"\${${name}}"'`; // close the quotes, expand in double quotes, open them again
    case 'ansi':
      return `'"\${${name}}"$'`;
  }
}
