/**
 * `$CONDUCTOR_HOME/prices.yaml`: the user's own prices, for every workflow they run (the shape of
 * `config.prices`: `openai:gpt-4o-mini: { input: 0.15, output: 0.60 }`, US dollars per million tokens). A
 * missing file is no prices; a malformed one is an error with its line and column, before anything runs.
 */
import { readFile } from 'node:fs/promises';
import { WorkflowInvalidError, SetupError, type Diagnostic } from '../core/errors.ts';
import { pricesSchema } from '../definition/schema.ts';
import { SourceFile } from '../definition/source.ts';
import type { ModelPrice } from '../definition/types.ts';
import { issuesToDiagnostics, show } from '../definition/zod-issues.ts';

export const PRICES_FILE = 'prices.yaml';


/** The prices in the file at `path`; none when there is no file. Throws WorkflowInvalidError (exit 2) naming the line. */
export async function readPricesFile(path: string): Promise<Record<string, ModelPrice>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SetupError('prices_unreadable', `cannot read ${path}: ${(error as Error).message}`, { hint: 'fix its permissions, or move it away to use the built-in prices', cause: error });
  }
  return parsePrices(text, path);
}

export function parsePrices(text: string, file: string): Record<string, ModelPrice> {
  const source = new SourceFile(file, text);
  const fail = (problems: Diagnostic[]) => new WorkflowInvalidError(problems);
  const hint = 'each entry is `provider:model: { input: 0.15, output: 0.60 }` (US dollars per million tokens; `cachedInput` optional)';
  const syntax = source.doc.errors[0];
  if (source.tooDeepAt !== undefined) throw fail([{ ...source.at(source.tooDeepAt), code: 'prices_invalid', message: 'the prices nest too deeply', hint }]);
  if (syntax) throw fail([{ ...source.at(syntax.pos[0]), code: 'yaml_syntax', message: syntax.message.split('\n')[0]!, hint: 'fix the YAML syntax of the prices file' }]);
  let raw: unknown;
  try {
    raw = source.doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw fail([{ ...source.at(0), code: 'prices_invalid', message: (error as Error).message, hint }]);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail([{ ...source.locate([]), code: 'prices_invalid', message: `the prices file is a map of \`provider:model\` to prices, got ${show(raw)}`, hint }]);
  const parsed = pricesSchema.safeParse(raw);
  if (!parsed.success) throw fail(issuesToDiagnostics(parsed.error.issues, source, raw, pricesSchema).map((d) => ({ ...d, message: d.message.replace(/^the workflow\b/, 'the prices file'), hint: d.hint ?? hint })));
  return parsed.data;
}
