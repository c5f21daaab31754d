/**
 * Glob patterns of `file: { action: glob }`, before anything runs: what may be written, and which paths a pattern
 * can match, so the plan orders a glob against the steps that write those paths. Matching uses Node's own
 * `path.matchesGlob`, the matcher `fs.glob` walks with (same options: `*` skips dot files, `\` is a separator).
 */
import { matchesGlob, sep } from 'node:path';

/** A segment with any of these may be more than its text (a wildcard, a class, braces, an extglob). */
const MAGIC = /[*?[\]{}()!+@]/;
const SEPARATORS = /[/\\]+/;

/**
 * Why a pattern may not be used, or undefined. Checked on the block as written (a template's literal parts)
 * and again on the resolved pattern: a pattern stays inside the workflow's folder, so it is relative and never
 * climbs with `..`. (Braces or classes that spell `..` are kept inside at run time: see glob.ts.)
 */
export function patternProblem(pattern: string): string | undefined {
  if (/^[/\\]/.test(pattern) || /^[A-Za-z]:/.test(pattern)) {
    return `expected a pattern relative to the workflow's folder (\`notes/*.txt\`), got the absolute \`${clip(pattern)}\`: a glob lists files inside the workflow's folder (to list another folder, use \`action: list\` with its path, or keep the workflow file there)`;
  }
  if (pattern.split(SEPARATORS).includes('..')) {
    return `expected a pattern inside the workflow's folder, got \`${clip(pattern)}\`, which climbs out of it with \`..\`: a glob lists files inside the workflow's folder (to list another folder, use \`action: list\` with its path, or keep the workflow file there)`;
  }
  // fs.glob expands every brace alternative and compiles each, synchronously, before it walks: five groups of
  // ten alternatives block the process for minutes, whatever the step's timeout.
  if (pattern.length > MAX_PATTERN_LENGTH) return `expected a pattern of at most ${MAX_PATTERN_LENGTH} characters, got ${pattern.length}`;
  // A `{` or `}` without its pair is text to us and may be a group to fs.glob (or the reverse): refused, so the
  // count below is the one fs.glob will expand.
  if (!bracesBalance(pattern)) return `\`${clip(pattern)}\` has a \`{\` or \`}\` without its pair: write \`[{]\` or \`[}]\` for a literal brace`;
  const expansions = braceExpansions(pattern);
  if (expansions > MAX_EXPANSIONS) {
    return `\`${clip(pattern)}\` expands to ${expansions > 1e9 ? 'over a billion' : expansions.toLocaleString('en-US')} patterns through its \`{…}\` groups, more than ${MAX_EXPANSIONS}: list fewer alternatives, or use \`*\``;
  }
  return undefined;
}

const MAX_PATTERN_LENGTH = 1024;
const MAX_EXPANSIONS = 256;

/** Every `{` has its `}` and no `}` comes before its `{` (a backslash escapes either). */
function bracesBalance(pattern: string): boolean {
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') i++;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * How many patterns the `{a,b}` groups and `{1..9}` ranges of a pattern expand to (groups multiply, nested
 * alternatives add), as a glob matcher expands them; capped well past any limit, so it never overflows.
 */
export function braceExpansions(pattern: string): number {
  let i = 0;
  const CAP = 1e12;
  // A sequence: the product of its groups. Stops at `,` or `}` of the group it is in (depth > 0).
  const sequence = (depth: number): number => {
    let product = 1;
    while (i < pattern.length) {
      const ch = pattern[i]!;
      if (ch === '\\') {
        i += 2;
        continue;
      }
      if (depth > 0 && (ch === ',' || ch === '}')) return product;
      if (ch === '{') {
        const start = ++i;
        const close = pattern.indexOf('}', start);
        // `{1..9}`, `{a..e}`, `{1..100..10}`: numbers with numbers, letters with letters (a mix is text).
        const range = close === -1 ? null : /^(?:(-?\d+)\.\.(-?\d+)|([A-Za-z])\.\.([A-Za-z]))(?:\.\.(-?\d+))?$/.exec(pattern.slice(start, close));
        if (range) {
          const span = range[1] !== undefined ? Math.abs(Number(range[2]) - Number(range[1])) + 1 : Math.abs(range[4]!.charCodeAt(0) - range[3]!.charCodeAt(0)) + 1;
          const step = Math.max(1, Math.abs(Number(range[5] ?? 1)));
          product = Math.min(CAP, product * Math.ceil(span / step));
          i = close + 1;
          continue;
        }
        let alternatives = 0;
        for (;;) {
          alternatives = Math.min(CAP, alternatives + sequence(depth + 1));
          if (pattern[i] === ',') {
            i++;
            continue;
          }
          if (pattern[i] === '}') i++;
          break;
        }
        product = Math.min(CAP, product * Math.max(1, alternatives));
        continue;
      }
      i++;
    }
    return product;
  };
  return sequence(0);
}

export interface PatternShape {
  /** The literal folders the pattern starts with, from the workflow's folder ([] for the folder itself). */
  folder: string[];
  /** The rest of the pattern, below `folder` ('' when it names no file). */
  rest: string;
  /** The pattern holds a `${…}` reference: its rest is only known at run time. */
  templated: boolean;
}

/**
 * Splits a pattern at its first segment that is not plain text (a wildcard, or a `${…}` reference): the
 * folder before it is certain, so only paths below it can match. `.` and empty segments mean nothing to a glob
 * and are dropped. A pattern with no wildcard at all still keeps its last segment in `rest`.
 */
export function patternShape(pattern: string): PatternShape {
  const segments = pattern.split(SEPARATORS).filter((s) => s !== '' && s !== '.');
  let literal = segments.findIndex((s) => MAGIC.test(s) || s.includes('${'));
  if (literal === -1) literal = Math.max(segments.length - 1, 0);
  return { folder: segments.slice(0, literal), rest: segments.slice(literal).join('/'), templated: pattern.includes('${') };
}

type Rule = (path: string) => boolean;

/** Anything below the folder: a pattern whose rest is only known at run time. */
export const anyPath: Rule = () => true;
const noPath: Rule = () => false;

/**
 * The plan groups the steps that read one set of files when they pass the same function (graph/resources.ts):
 * the same rule is handed out for the same pattern. Correct without it, so the memory is simply bounded.
 */
const rules = new Map<string, Rule>();
function remembered(key: string, make: () => Rule): Rule {
  let rule = rules.get(key);
  if (rule) return rule;
  if (rules.size >= 10_000) rules.clear();
  rules.set(key, (rule = make()));
  return rule;
}

/**
 * Whether a file at `path` (below the pattern's folder) is one the pattern matches. A plan may test thousands
 * of paths against each pattern, and `matchesGlob` parses its pattern on every call: paths whose name lacks the
 * pattern's literal start or end (`report-` and `.txt` in `report-*.txt`) are answered without it.
 */
export function matchesFile(rest: string): Rule {
  if (rest === '') return noPath;
  return remembered(`file ${rest}`, () => {
    const name = rest.split(SEPARATORS).pop()!;
    const fixed = /[{(]/.test(rest) || name.includes('**') ? undefined : literalEnds(name);
    if (!fixed) return (path) => matchesGlob(path, rest);
    const [head, tail] = fixed;
    return (path) => {
      const base = path.slice(Math.max(path.lastIndexOf('/'), sep === '\\' ? path.lastIndexOf('\\') : -1) + 1);
      return base.length >= head.length + tail.length && base.startsWith(head) && base.endsWith(tail) && matchesGlob(path, rest);
    };
  });
}

/** The plain text a glob segment starts and ends with (`report-`, `.txt` in `report-*.txt`). */
function literalEnds(segment: string): [string, string] | undefined {
  const first = segment.search(MAGIC);
  if (first === -1) return [segment, ''];
  let last = segment.length;
  while (last > first && !MAGIC.test(segment[last - 1]!)) last--;
  return [segment.slice(0, first), segment.slice(last)];
}

/**
 * Whether deleting `path` (below the pattern's folder) could remove a match: it matches itself, or it is a
 * folder on the way to one. Segment by segment, until a `**`; braces and extglobs can hold a `/`, so a pattern
 * with them is answered "yes" (an extra edge in the plan, never a missing one).
 */
export function mayHoldMatches(rest: string): Rule {
  if (rest === '') return noPath;
  if (/[{(]/.test(rest)) return anyPath;
  const parts = rest.split('/');
  return remembered(`tree ${rest}`, () => (path) => {
    const segments = path.split(sep === '\\' ? SEPARATORS : '/'); // on POSIX a backslash is part of a name
    for (let i = 0; i < segments.length; i++) {
      const part = parts[i];
      if (part === undefined) return false; // deeper than any match
      if (part.includes('**')) return true;
      if (!matchesGlob(segments[i]!, part)) return false;
    }
    return true;
  });
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
