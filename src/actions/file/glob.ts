/**
 * The run-time half of `file: { action: glob }`: the files a pattern matches, as sorted POSIX paths relative to
 * the workflow's folder. Node's own `fs.glob` walks (stable since Node 24; no dependency, and the plan's
 * ordering uses the same matcher, `path.matchesGlob`).
 *
 * What counts as a match:
 * - files only: a folder is never listed (`notes/**` lists the files below notes, not notes/sub);
 * - never `.git` or anything in it, even when the pattern names it, nor a link that leads into one;
 * - dot files only when the pattern spells the dot (`notes/.*`, `config/.env`), as in a shell;
 * - a symlink counts when it leads to a file inside the workflow's folder, and is listed by its own path;
 *   one that leads outside (or nowhere) is left out, as is any file reached through a symlinked folder that
 *   leads outside. A listed path is always one a data-chosen `file: read` of it may open. (As fs.glob walks,
 *   a wildcard never enters a symlinked folder; a folder the pattern names is entered.)
 */
import { glob, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

export async function globFiles(baseDir: string, pattern: string, signal: AbortSignal): Promise<string[]> {
  const root = resolve(baseDir);
  const realRoot = await realpath(root);
  // A pattern cannot name `..` (the schema refuses it), but braces and classes can still spell it
  // (`{..,x}`, `[.][.]`): the walk never steps outside the folder, nor into a `.git`. After an abort, the
  // walk is pruned everywhere so it ends at once.
  const exclude = (entry: { parentPath: string; name: string }) => {
    if (signal.aborted) return true;
    const rel = relative(root, resolve(root, entry.parentPath, entry.name));
    return outside(rel) || hasGit(rel);
  };
  const realDirs = new Map<string, Promise<string>>();
  const realDir = (dir: string) => {
    let real = realDirs.get(dir);
    if (!real) realDirs.set(dir, (real = realpath(dir)));
    return real;
  };
  const found = new Set<string>();
  for await (const entry of glob(pattern, { cwd: root, withFileTypes: true, exclude })) {
    signal.throwIfAborted();
    const path = resolve(root, entry.parentPath, entry.name);
    const rel = relative(root, path);
    if (rel === '' || outside(rel) || hasGit(rel)) continue;
    let real: string;
    if (entry.isFile()) {
      real = resolve(await realDir(dirname(path)), entry.name);
    } else if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined); // a dangling link is no file
      if (!target?.isFile()) continue;
      real = await realpath(path);
    } else {
      continue; // a folder, a socket, a pipe, a device
    }
    // Where it really is counts too: a link (or a linked folder) into `.git` lists nothing from there.
    if (!within(real, realRoot) || hasGit(relative(realRoot, real))) continue;
    found.add(sep === '/' ? rel : rel.split(sep).join('/'));
  }
  signal.throwIfAborted();
  // Code-unit order: the same on every machine and locale.
  return [...found].sort();
}

function outside(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

function hasGit(rel: string): boolean {
  return rel.split(sep).some((part) => part.toLowerCase() === '.git');
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}
