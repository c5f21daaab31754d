/** Prints diagnostics the way compilers do: `file:line:col: message`, the line itself, a caret, a hint. */
import type { Diagnostic } from '../core/errors.ts';
import { displayPath } from '../report/display-path.ts';
import { docsFor, docsLink } from '../report/docs.ts';
import { createStyle, type Style } from '../report/style.ts';
import type { CliIO } from './io.ts';

/** The most of a line a code frame shows: a line of 250 KB (a file nested 50,000 deep) shows the part around the caret. */
const FRAME_WIDTH = 100;

export { displayPath };

export function formatDiagnostic(d: Diagnostic, style: Style, sourceText?: string): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const paint = d.severity === 'warning' ? style.yellow : style.red;
  const lines = [`${style.bold(where)}: ${paint(d.severity === 'warning' ? 'warning' : 'error')}: ${d.message}`];
  const text = d.line > 0 ? lineOf(sourceText, d.line) : undefined;
  if (text !== undefined) {
    const gutter = String(d.line);
    const frame = excerpt(text.replace(/\t/g, ' '), d.column - 1);
    lines.push(style.dim(`  ${gutter} | `) + frame.text);
    lines.push(style.dim(`  ${' '.repeat(gutter.length)} | `) + ' '.repeat(frame.caret) + paint('^'));
  }
  if (d.hint) lines.push(`  ${style.cyan('hint')}: ${d.hint}`);
  const docs = docsFor(d.code);
  if (docs) lines.push(`  ${style.cyan('docs')}: ${docsLink(docs)}`);
  return lines.join('\n');
}

export function formatDiagnostics(list: readonly Diagnostic[], style: Style, sources: ReadonlyMap<string, string> = new Map()): string {
  const body = list.map((d) => formatDiagnostic(d, style, sources.get(d.file))).join('\n\n');
  const warnings = list.filter((d) => d.severity === 'warning').length;
  const problems = list.length - warnings;
  const count = `${plural(problems, 'problem')}${warnings ? ` and ${plural(warnings, 'warning')}` : ''}`;
  return `${body}\n\n${style.red(count)} found; nothing was run.\n`;
}

/**
 * A workflow's warnings, before `run` or `plan` goes on with it: the same frames as `validate`, on stderr,
 * so `--json` and `--format json` output stays one document.
 */
export function printWarnings(spec: { readonly warnings: readonly Diagnostic[]; readonly source: string }, io: CliIO): void {
  if (spec.warnings.length === 0) return;
  const style = createStyle(io.stderr, io.env);
  io.stderr.write(spec.warnings.map((d) => formatDiagnostic({ ...d, file: displayPath(d.file, io.cwd) }, style, spec.source)).join('\n\n') + '\n\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Line `n` (1-based) of `text`, found without splitting a large file into every one of its lines. */
function lineOf(text: string | undefined, n: number): string | undefined {
  if (text === undefined) return undefined;
  let start = 0;
  for (let k = 1; k < n; k++) {
    const next = text.indexOf('\n', start);
    if (next === -1) return undefined;
    start = next + 1;
  }
  const end = text.indexOf('\n', start);
  return text.slice(start, end === -1 ? text.length : end).replace(/\r$/, '');
}

/** At most FRAME_WIDTH characters of `line` around `at`, with `…` where it was cut, and where the caret goes. */
function excerpt(line: string, at: number): { text: string; caret: number } {
  const caret = Math.max(0, at);
  if (line.length <= FRAME_WIDTH) return { text: line, caret };
  const start = Math.max(0, Math.min(caret - FRAME_WIDTH / 2, line.length - FRAME_WIDTH));
  const end = start + FRAME_WIDTH;
  const head = start > 0 ? '…' : '';
  return { text: head + line.slice(start, end) + (end < line.length ? '…' : ''), caret: caret - start + head.length };
}
