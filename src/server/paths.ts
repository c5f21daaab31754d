/**
 * Workflow paths a client sends, confined to the server's root. A client names a file relative to the root;
 * everything that could reach outside it is refused before the file system is touched (an absolute path, a
 * `..` segment, a NUL byte), and what remains is resolved through its symlinks and checked again, since a
 * link inside the root may point anywhere.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { HttpError } from './errors.ts';

const OUTSIDE_HINT = 'name a workflow file by its path relative to the server\'s root, e.g. `flows/daily.yaml`';

export function isWorkflowName(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

/** A path with a hidden segment (`.git`, `.secrets`; `.` itself is no folder) or `node_modules`: not served, as the listing skips them. */
function hidden(path: string): boolean {
  return path.split(/[\\/]/).some((segment) => (segment.startsWith('.') && segment !== '.') || segment === 'node_modules');
}

/** Whether `file` (a real path) is `root` (a real path) or inside it. */
function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The real path of the workflow file `path` names under `root` (itself a real path); an HttpError otherwise. */
export async function confine(root: string, path: string): Promise<string> {
  if (path.includes('\0')) throw new HttpError(403, 'the path holds a NUL byte', { hint: OUTSIDE_HINT });
  if (path === '' ) throw new HttpError(400, 'missing the workflow path', { hint: OUTSIDE_HINT });
  // Both separators count: a backslash is a separator on Windows, and never needed in a name here.
  if (isAbsolute(path) || path.startsWith('/') || path.startsWith('\\') || /^[a-z]:/i.test(path)) throw new HttpError(403, 'the path is absolute: only paths under the root are served', { hint: OUTSIDE_HINT });
  if (path.split(/[\\/]/).includes('..')) throw new HttpError(403, 'the path goes up with `..`: only paths under the root are served', { hint: OUTSIDE_HINT });
  if (!isWorkflowName(path)) throw new HttpError(403, 'only workflow files (.yaml, .yml) are served', { hint: OUTSIDE_HINT });
  // As the listing skips them: a hidden folder (`.git`, `.secrets`) or file is not the root's to serve.
  if (hidden(path)) throw new HttpError(403, 'hidden folders and files (and node_modules) are not served', { hint: OUTSIDE_HINT });
  let real: string;
  try {
    real = await realpath(join(root, path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HttpError(404, 'no such workflow file under the root', { hint: 'GET /api/workflows lists them' });
    throw new HttpError(403, 'the path cannot be read', { hint: OUTSIDE_HINT });
  }
  if (!inside(root, real)) throw new HttpError(403, 'the path leads outside the root (through a symlink)', { hint: OUTSIDE_HINT });
  if (hidden(relative(root, real))) throw new HttpError(403, 'the path leads into a hidden folder (through a symlink)', { hint: OUTSIDE_HINT });
  const info = await stat(real);
  if (!info.isFile()) throw new HttpError(404, 'no such workflow file under the root', { hint: 'GET /api/workflows lists them' });
  return real;
}

/** How many files the listing looks at, at most: a root set to a big folder must not stall the server. */
export const WALK_LIMIT = 2000;

/**
 * The workflow files under `root` (a real path), as paths relative to it with `/` separators, sorted. Skips
 * dot-folders and node_modules; follows no symlinked folder; a symlinked file is listed only when it resolves
 * inside the root. `truncated` when the walk stopped at `limit` entries.
 */
export async function workflowFiles(root: string, limit = WALK_LIMIT): Promise<{ files: string[]; truncated: boolean }> {
  const files: string[] = [];
  let seen = 0;
  const folders = [root];
  while (folders.length > 0) {
    const folder = folders.shift()!;
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      continue; // unreadable: not listed
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (++seen > limit) return { files: files.sort(), truncated: true };
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && entry.name !== 'node_modules') folders.push(full);
      } else if (isWorkflowName(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await linkedInside(root, full))))) {
        files.push(relative(root, full).split(sep).join('/'));
      }
    }
  }
  return { files: files.sort(), truncated: false };
}

async function linkedInside(root: string, link: string): Promise<boolean> {
  try {
    const real = await realpath(link);
    return inside(root, real) && (await stat(real)).isFile();
  } catch {
    return false;
  }
}
