/**
 * Everything `npm run docs` writes, computed without writing: the test compares it with what is committed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultActions } from '../../src/compose.ts';
import { workflowJsonSchema } from '../../src/definition/schema.ts';
import { openApiDocument } from '../../src/server/openapi.ts';
import { COMMANDS, SUMMARIES, type Command } from '../../src/cli/main.ts';
import { cliBlock, requiredCliBlocks, type CliDefinitions } from './cli.ts';
import { languageBlock, requiredLanguageBlocks } from './language.ts';
import { fill, markersOf, type Marker } from './markers.ts';

export const ROOT = join(import.meta.dirname, '../..');

/** Generated file (relative to the root) → its content. */
export async function generateDocs(root = ROOT): Promise<Map<string, string>> {
  const actions = defaultActions();
  const schema = workflowJsonSchema(actions);
  const out = new Map<string, string>();
  out.set('schema/workflow.schema.json', JSON.stringify(schema, null, 2) + '\n');
  out.set('docs/openapi.json', JSON.stringify(openApiDocument(), null, 2) + '\n');

  const language = await page(root, 'docs/language.md', requiredLanguageBlocks(actions.names()), (m) => languageBlock(m, schema, actions.names()));
  out.set('docs/language.md', language);

  const commands: Record<string, Command> = {};
  for (const [name, load] of Object.entries(COMMANDS)) commands[name] = await load();
  const cli: CliDefinitions = { commands, summaries: SUMMARIES };
  out.set('docs/cli.md', await page(root, 'docs/cli.md', requiredCliBlocks(cli), (m) => cliBlock(m, cli, root)));
  return out;
}

async function page(root: string, file: string, required: string[], render: (marker: Marker) => string | Promise<string>): Promise<string> {
  const text = await readFile(join(root, file), 'utf8');
  const markers = markersOf(text, file);
  const present = new Set(markers.map((m) => [m.kind, ...m.args].join(' ')));
  const missing = required.filter((r) => !present.has(r));
  if (missing.length > 0) throw new Error(`${file} has no generated block for ${missing.map((m) => `\`<!-- generated:${m} -->\``).join(', ')}: add one (with a \`<!-- /generated -->\` line after it) where it belongs`);
  const bodies: string[] = [];
  for (const marker of markers) bodies.push(await render(marker));
  return fill(text, bodies);
}
