/** Options shared by several commands, checked the same way everywhere. Light: no engine imports. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ParseArgsOptionDescriptor } from 'node:util';
import { UsageError } from '../core/errors.ts';

/** `-i name=value`, repeatable (`run`, `resume`, `plan`). */
export const INPUT_OPTION: ParseArgsOptionDescriptor & { description: string; value: string } = {
  type: 'string',
  short: 'i',
  multiple: true,
  value: 'name=value',
  description: 'An input value, name=value (name=@file reads it from a file); repeatable',
};

/** `--max-concurrency N`: an integer from 1 to 1000. */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`\`--max-concurrency\` expects an integer from 1 to 1000, got \`${text}\``);
  return n;
}

/** The `-i` pairs as given (text; typed later against the workflow's inputs). `name=@file` reads the file. */
export async function parseInputs(pairs: string[], cwd: string): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`\`-i ${pair}\`: expected name=value`, { hint: 'e.g. -i topic=whales, or -i text=@notes.txt to read a file' });
    const name = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    if (value.startsWith('@')) {
      const file = resolve(cwd, value.slice(1));
      try {
        value = await readFile(file, 'utf8');
      } catch (error) {
        throw new UsageError(`\`-i ${name}=${value}\`: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    inputs[name] = value;
  }
  return inputs;
}
