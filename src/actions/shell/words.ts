/**
 * A command line split into words without a shell: blanks separate words, quotes group them and a backslash
 * escapes, as in a POSIX shell, and nothing else happens — no `$VAR`, `~`, glob, pipe or redirection.
 *
 * The line is a template: only its literal text is split. Each value a reference gave is then put, verbatim,
 * into the word where its reference sat, so a value with blanks, quotes or `;` in it is part of one argument
 * and is never split or read. (That is why no library fits: shell-quote and string-argv split one whole
 * string, and a value pasted into it first would be split with it.)
 */

/** A word as lexed: literal text, and the index of each value that goes into it, in order. */
export interface LexedWord {
  readonly parts: readonly (string | number)[];
}

export interface LexedCommand {
  readonly words: readonly LexedWord[];
  /** The literal text cannot be split (an open quote, a trailing backslash). */
  readonly problem?: string;
  /**
   * The first unquoted text that a shell would read as syntax (`|`, `;`, `>`, `$(`, `$HOME`, a line break
   * between words): here it would be passed on as text, which is seldom what was meant.
   */
  readonly shellSyntax?: string;
}

const BLANK = /[ \t\n]/;
/** Characters a shell reads as operators when unquoted; `&` only as a word of its own or doubled. */
const OPERATOR = /[|;<>`]/;

/**
 * Lexes the literal parts of a command line: `strings[i]` is the text before value `i` (a tagged template's
 * strings). Values are not needed: where each goes is all that matters.
 */
export function lexCommand(strings: readonly string[]): LexedCommand {
  const words: LexedWord[] = [];
  let word: (string | number)[] | undefined;
  let quote: '"' | "'" | undefined;
  let shellSyntax: string | undefined;
  const add = (text: string) => {
    word ??= [];
    if (typeof word[word.length - 1] === 'string') word[word.length - 1] += text;
    else word.push(text);
  };
  for (let s = 0; s < strings.length; s++) {
    const text = strings[s]!;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      const next = text[i + 1];
      if (quote === "'") {
        if (c === "'") quote = undefined;
        else add(c);
      } else if (quote === '"') {
        if (c === '"') quote = undefined;
        else if (c === '\\' && next !== undefined && '"\\$`\n'.includes(next)) {
          // As in a shell: inside double quotes a backslash escapes only these, and a newline away.
          if (next !== '\n') add(next);
          i++;
        } else {
          // A shell expands `$NAME`, `${…}`, `$(…)` and backticks inside double quotes too: here they stay text.
          if (c === '$' || c === '`') shellSyntax ??= c === '`' ? c : syntaxAt(text, i, false);
          add(c);
        }
      } else if (c === "'" || c === '"') {
        quote = c;
        add(''); // `""` is a word, an empty one
      } else if (c === '\\') {
        if (next === undefined) {
          return { words, problem: s + 1 < strings.length ? 'a backslash just before a reference escapes nothing: a value is passed as it is' : 'the command line ends in a backslash that escapes nothing' };
        }
        if (next !== '\n') add(next); // a backslash-newline joins two lines
        i++;
      } else if (BLANK.test(c)) {
        // A line break between words separates commands in a shell; here it would only separate words.
        if (c === '\n' && (words.length > 0 || word !== undefined) && (/\S/.test(text.slice(i)) || s + 1 < strings.length)) shellSyntax ??= '\n';
        if (word !== undefined) words.push({ parts: word });
        word = undefined;
      } else {
        shellSyntax ??= syntaxAt(text, i, word === undefined);
        add(c);
      }
    }
    if (s + 1 < strings.length) {
      word ??= [];
      word.push(s);
    }
  }
  if (quote) return { words, problem: `a ${quote === '"' ? 'double' : 'single'} quote (${quote}) is not closed` };
  if (word !== undefined) words.push({ parts: word });
  return { words, ...(shellSyntax === undefined ? {} : { shellSyntax }) };
}

/** Shell syntax starting at unquoted `text[i]`, if any (`atStart`: no word has begun). */
function syntaxAt(text: string, i: number, atStart: boolean): string | undefined {
  const c = text[i]!;
  if (OPERATOR.test(c)) return c === '>' && text[i + 1] === '>' ? '>>' : c === '|' && text[i + 1] === '|' ? '||' : c;
  if (c === '&') {
    if (text[i + 1] === '&') return '&&';
    if (atStart && (i + 1 === text.length || BLANK.test(text[i + 1]!))) return '&';
  }
  if (c === '$') return /^\$(?:\{[^}\s]*\}?|\(|[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i))?.[0];
  return undefined;
}

/** The words of a command line, each value in its place and never split. Throws when the text cannot be split. */
export function splitCommand(strings: readonly string[], values: readonly string[]): string[] {
  const lexed = lexCommand(strings);
  if (lexed.problem) throw new Error(lexed.problem);
  return lexed.words.map((w) => w.parts.map((p) => (typeof p === 'number' ? values[p]! : p)).join(''));
}

/** The first word when the literal text spells it whole (no value in it), else undefined. */
export function literalProgram(strings: readonly string[]): string | undefined {
  const lexed = lexCommand(strings);
  const first = lexed.words[0];
  if (lexed.problem || !first || first.parts.some((p) => typeof p === 'number')) return undefined;
  return first.parts.join('');
}
