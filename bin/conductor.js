#!/usr/bin/env node
// Conductor's command line. Checks the Node version before loading anything that needs a newer one.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `conductor needs Node.js 22.18 or newer; this is ${process.version}.\n` +
      '  hint: run it through npm (`npx conductor …` or an npm script) in a project where `npm install` has run,\n' +
      '        so the Node 24 that the project installs is used, or install Node 22+ yourself.\n',
  );
  process.exit(2);
}
await import('../dist/cli/bin.js');
