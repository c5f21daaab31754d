/** Where a page of the docs is, as a user can open it: relative to where they are when that is inside the package. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayPath } from './diagnostics.ts';

/** The package's folder (this file is src/cli/ or dist/cli/ in it); `docs/` and README.md ship with it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `page` is a path in the package with an optional anchor: `docs/cli.md#conductor-run`. */
export function docsLink(page: string, cwd = process.cwd()): string {
  const hash = page.indexOf('#');
  const file = hash < 0 ? page : page.slice(0, hash);
  return displayPath(join(PACKAGE_ROOT, file), cwd) + (hash < 0 ? '' : page.slice(hash));
}
