#!/usr/bin/env node
// Conductor's command line. Checks the Node version before loading anything that needs a newer one.
import { existsSync } from 'node:fs';
import module from 'node:module';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `conductor needs Node.js 22.19 or newer; this is ${process.version}.\n` +
      '  hint: run it through npm (`npx conductor …` or an npm script) in a project where `npm install` has run,\n' +
      '        so the Node 24 that the project installs is used, or install Node 22+ yourself.\n',
  );
  process.exit(2);
}
const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('conductor is not built yet.\n  hint: run `npm install` (or `npm run build`) in the project first.\n');
  process.exit(2);
}
// Keep V8's compiled code for our modules and dependencies between runs (Node's own on-disk cache, in the
// temp folder): start-up of a command that loads the validator drops by about a fifth.
module.enableCompileCache?.();
await import(entry.href);
