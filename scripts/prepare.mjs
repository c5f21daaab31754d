// `npm install`'s and `npx`'s `prepare`: builds dist/ only when it is out of date. `npx conductor` with an empty
// npx cache installs this folder and runs `prepare` again; rewriting dist/ then cost a new user ten seconds and
// broke any conductor process loading dist/ at that moment (the test suite's, two files at once).
// `npm run build` always builds. Plain JavaScript, for whichever Node runs npm.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const mtime = (path) => {
  try {
    return statSync(join(root, path)).mtimeMs;
  } catch {
    return undefined;
  }
};

/**
 * Up to date when every source (src/**.ts but tests) has its dist/**.js, written after both the source and the
 * build's settings. Strictly after: a build and an edit in the same instant (or on a file system with coarse
 * times) build again. An output whose source was deleted is left alone: tsc never removes one.
 */
function upToDate() {
  const settings = Math.max(...['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => mtime(f) ?? 0));
  let sources;
  try {
    sources = readdirSync(join(root, 'src'), { recursive: true }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
  } catch {
    return false;
  }
  return sources.every((file) => {
    const built = mtime(join('dist', file.replace(/\.ts$/, '.js')));
    return built !== undefined && built > Math.max(settings, mtime(join('src', file)) ?? Infinity);
  });
}

if (!upToDate()) {
  // npm says which npm is running us; its own CLI is started with this Node (no `npm.cmd` lookup on Windows).
  const npm = process.env.npm_execpath;
  const result = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) process.stderr.write(`conductor: cannot build: ${result.error.message}\n`);
  process.exit(result.status ?? 1);
}
