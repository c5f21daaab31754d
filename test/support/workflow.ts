import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkflow } from '../../src/definition/load.ts';
import type { WorkflowSpec } from '../../src/definition/types.ts';

/** Parse workflow text as if it were a file in `dir` (relative file paths resolve there). */
export function workflow(text: string, dir = process.cwd()): WorkflowSpec {
  return parseWorkflow(text, join(dir, 'workflow.yaml'));
}

/** A fresh folder for a test, removed afterwards. */
export async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function writeWorkflow(dir: string, text: string, name = 'workflow.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
