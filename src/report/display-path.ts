/** How a path is shown to a user: relative to the current folder when it is inside it, else as it is. */
import { isAbsolute, relative } from 'node:path';

export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
