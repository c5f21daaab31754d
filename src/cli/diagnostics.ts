/** Prints diagnostics the way compilers do: `file:line:col: message`, the line itself, a caret, a hint. */
import { relative, isAbsolute } from 'node:path';
import type { Diagnostic } from '../core/errors.ts';
import type { Style } from '../report/style.ts';

/** Shows a path relative to the current folder when it is inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export function formatDiagnostic(d: Diagnostic, style: Style, sourceText?: string): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const lines = [`${style.bold(where)}: ${style.red('error')}: ${d.message}`];
  const text = d.line > 0 ? sourceText?.split('\n')[d.line - 1] : undefined;
  if (text !== undefined) {
    const gutter = String(d.line);
    lines.push(style.dim(`  ${gutter} | `) + text.replace(/\t/g, ' '));
    lines.push(style.dim(`  ${' '.repeat(gutter.length)} | `) + ' '.repeat(Math.max(0, d.column - 1)) + style.red('^'));
  }
  if (d.hint) lines.push(`  ${style.cyan('hint')}: ${d.hint}`);
  return lines.join('\n');
}

export function formatDiagnostics(list: readonly Diagnostic[], style: Style, sources: ReadonlyMap<string, string> = new Map()): string {
  const body = list.map((d) => formatDiagnostic(d, style, sources.get(d.file))).join('\n\n');
  const count = list.length === 1 ? '1 problem' : `${list.length} problems`;
  return `${body}\n\n${style.red(count)} found; nothing was run.\n`;
}
