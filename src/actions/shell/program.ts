/** Finding a program before anything runs, as `spawn` will: on PATH for a bare name, at its path otherwise. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** The search path when the environment has none (libuv's, which `spawn` uses). */
const DEFAULT_PATH = '/usr/bin:/bin';

/** A file the current user may run. */
function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `program` cannot be run, or undefined when it can (or cannot be told yet). A name with a `/` is a path:
 * an absolute one is checked; a relative one is left to the run, since it resolves against the step's `cwd`.
 */
export function programProblem(program: string, path: string | undefined, cwd?: string): { message: string; hint: string } | undefined {
  if (program.includes('/')) {
    if (!isAbsolute(program) && cwd === undefined) return undefined;
    const at = cwd === undefined ? program : resolve(cwd, program);
    if (executable(at)) return undefined;
    return { message: `program \`${program}\` not found or not executable (${at})`, hint: 'check the path (relative paths start from the step\'s `cwd`, by default the workflow\'s folder), and that the file is executable (`chmod +x`)' };
  }
  const dirs = (path ?? DEFAULT_PATH).split(delimiter);
  // A relative entry (or an empty one, the current folder) is looked in from the step's folder when it runs:
  // not something to tell before the run.
  if (dirs.some((dir) => !isAbsolute(dir))) return undefined;
  if (dirs.some((dir) => executable(join(dir, program)))) return undefined;
  return { message: `program \`${program}\` not found on PATH`, hint: `install it, or give its path (\`/usr/local/bin/${program}\`, or \`./${program}\` from the step's \`cwd\`)${path === undefined ? `; PATH is not set, so only ${DEFAULT_PATH} was searched` : ''}` };
}
