/**
 * docs/cli.md's reference parts, from the CLI's own definitions: each command's summary, usage and flags (the
 * objects `conductor <command> --help` prints), the environment variables (src/cli/environment.ts), the exit
 * codes (src/cli/io.ts) and the `--json` shapes (the TypeScript types the commands print).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../../src/cli/main.ts';
import { ENVIRONMENT } from '../../src/cli/environment.ts';
import { EXIT_MEANINGS } from '../../src/cli/io.ts';
import { cell, code, type Marker } from './markers.ts';

export interface CliDefinitions {
  commands: Record<string, Command>;
  summaries: Record<string, string>;
}

export async function cliBlock(marker: Marker, cli: CliDefinitions, root: string): Promise<string> {
  switch (marker.kind) {
    case 'command':
      return commandBlock(marker.args[0] ?? '', cli, root);
    case 'environment':
      return ['| Variable | What it does |', '| --- | --- |', ...ENVIRONMENT.map((v) => `| ${code(v.name)} | ${cell(v.description)} |`)].join('\n') + '\n';
    case 'exit-codes':
      return ['| Exit code | Meaning |', '| --- | --- |', ...Object.entries(EXIT_MEANINGS).map(([n, meaning]) => `| ${n} | ${cell(meaning)} |`)].join('\n') + '\n';
    default:
      throw new Error(`unknown generated block \`${marker.kind}\` in docs/cli.md`);
  }
}

export function requiredCliBlocks(cli: CliDefinitions): string[] {
  return [...Object.keys(cli.commands).map((name) => `command ${name}`), 'environment', 'exit-codes'];
}

async function commandBlock(name: string, cli: CliDefinitions, root: string): Promise<string> {
  const command = cli.commands[name];
  if (!command) throw new Error(`docs/cli.md documents \`conductor ${name}\`, which is not a command (commands: ${Object.keys(cli.commands).join(', ')})`);
  const lines = [`### \`conductor ${name}\``, '', `${cli.summaries[name]}.`, '', '```', ...command.usage.split(/ {2}\| {2}/), '```', ''];
  const options = Object.entries(command.options);
  if (options.length > 0) lines.push('| Flag | Value | Description |', '| --- | --- | --- |');
  for (const [option, def] of options) {
    const flag = `${def.short ? `-${def.short}, ` : ''}--${option}`;
    const value = def.type === 'string' ? cell(code(def.value ?? 'value')) : '';
    const repeat = def.multiple ? ' (repeatable)' : '';
    lines.push(`| ${code(flag)} | ${value} | ${cell(def.description)}${/repeatable/.test(def.description) ? '' : repeat} |`);
  }
  if (command.jsonShape) lines.push('', `Its JSON output, as the types it is made from:`, '', await shapes(command.jsonShape, root));
  return lines.join('\n') + '\n';
}

/** The declarations `file#Type` names, quoted from the source, grouped by file in the order given. */
async function shapes(refs: readonly string[], root: string): Promise<string> {
  const byFile = new Map<string, string[]>();
  for (const ref of refs) {
    const [file, type] = ref.split('#') as [string, string];
    byFile.set(file, [...(byFile.get(file) ?? []), type]);
  }
  const blocks: string[] = [];
  for (const [file, types] of byFile) {
    const source = await readFile(join(root, file), 'utf8');
    blocks.push(`\`\`\`ts\n// ${file}\n${types.map((t) => declaration(source, t, file)).join('\n\n')}\n\`\`\``);
  }
  return blocks.join('\n\n');
}

/** The text of `export interface NAME …` or `export type NAME …` with its doc comment, as written in `source`. */
export function declaration(source: string, name: string, file: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => new RegExp(`^export (interface|type) ${name}\\b`).test(line));
  if (start < 0) throw new Error(`docs/cli.md: ${file} has no \`export interface ${name}\` or \`export type ${name}\``);
  let first = start;
  if (lines[first - 1]?.trimEnd().endsWith('*/')) while (first > 0 && !lines[first]!.startsWith('/**')) first--;
  let end = start;
  if (!/[;}]\s*$/.test(lines[start]!) || /\{\s*$/.test(lines[start]!)) while (end < lines.length && !/^[};]/.test(lines[end]!)) end++;
  return lines.slice(first, end + 1).join('\n');
}
