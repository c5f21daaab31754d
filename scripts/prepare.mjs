// `npm install`'s and `npx`'s `prepare`: builds dist/ only when it is missing or older than what it is built
// from. `npx conductor` with an empty npx cache installs this folder and runs `prepare` again; rewriting dist/
// then costs a new user ten seconds and breaks any conductor process loading dist/ at that moment (the test
// suite's, two files at once). `npm run build` always builds. Plain JavaScript: it may run before anything else.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** Newest (or oldest) modification time of the files under `dir` that `keep` accepts; undefined when none. */
function times(dir, keep) {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile() && keep(e.name)).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs);
}

const sources = [
  ...times('src', (name) => name.endsWith('.ts') && !name.endsWith('.test.ts')),
  ...['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(root, f)).mtimeMs),
];
const built = times('dist', (name) => name.endsWith('.js'));
const current = built.length > 0 && Math.min(...built) >= Math.max(...sources);
if (!current) {
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
