/**
 * `npm run docs`: regenerates the reference parts of docs/language.md and docs/cli.md, the published JSON Schema
 * and the server's OpenAPI document (docs/openapi.json) from the definitions they describe. `--check` writes nothing and exits 1 when a file is out of date.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateDocs, ROOT } from './docs/generate.ts';

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [file, text] of await generateDocs()) {
  const path = join(ROOT, file);
  const now = await readFile(path, 'utf8').catch(() => '');
  if (now === text) continue;
  stale.push(file);
  if (!check) await writeFile(path, text);
}
if (check && stale.length > 0) {
  process.stderr.write(`out of date: ${stale.join(', ')}\n  hint: run \`npm run docs\` and commit the result\n`);
  process.exit(1);
}
process.stdout.write(stale.length === 0 ? 'docs are up to date\n' : `wrote ${stale.join(', ')}\n`);
