/**
 * The pipeline issue #13 was written for, through the CLI: glob a folder, summarise every file as a foreach
 * with an echo model, combine — and the same with one item failing, with and without continueOnError.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

const pipeline = (extra = '') => `steps:
  - id: list
    file: { action: glob, pattern: "notes/*.txt" }
  - id: read
    foreach: \${steps.list.output}
    as: path
${extra}    file: { action: read, path: "\${path}" }
  - id: summarize
    foreach: \${steps.read.output}
    maxConcurrency: 2
    llm: { model: "echo:x", prompt: "summary of \${item} (\${foreach.index}/\${foreach.count})" }
  - id: combine
    llm: { model: "echo:x", prompt: "combine \${steps.summarize.output}" }
outputs:
  combined: \${steps.combine.output}
`;

async function notes(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'notes'));
  for (const [name, text] of [['b.txt', 'beta'], ['a.txt', 'alpha'], ['c.txt', 'gamma'], ['skip.md', 'no']] as const) await writeFile(join(dir, 'notes', name), text);
  return dir;
}

describe('glob → foreach → combine through the CLI', { timeout: 180_000 }, () => {
  it('summarises every matching file in sorted order and combines the summaries', async (t) => {
    const dir = await notes(t);
    const file = await writeWorkflow(dir, pipeline());
    const result = await run(['run', file, '--json', '--no-store']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.steps.list.output, ['notes/a.txt', 'notes/b.txt', 'notes/c.txt']);
    assert.deepEqual(report.steps.read.output, ['alpha', 'beta', 'gamma']);
    assert.deepEqual(report.steps.summarize.output, ['summary of alpha (0/3)', 'summary of beta (1/3)', 'summary of gamma (2/3)']);
    assert.equal(report.outputs.combined, `combine ${JSON.stringify(report.steps.summarize.output)}`);
    assert.deepEqual(report.steps.summarize.items.map((i: { status: string }) => i.status), ['succeeded', 'succeeded', 'succeeded']);
  });

  it('one unreadable item stops the run (exit 1) and nothing downstream runs', async (t) => {
    const dir = await notes(t);
    // A list with a path that does not exist: read fails on that item.
    const text = `steps:
  - id: read
    foreach: [notes/a.txt, notes/missing.txt, notes/b.txt]
    file: { action: read, path: "\${item}" }
  - id: combine
    llm: { model: "echo:x", prompt: "combine \${steps.read.output}" }
`;
    const failing = await writeWorkflow(dir, text, 'failing.yaml');
    const result = await run(['run', failing, '--json', '--no-store']);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.status, 'failed');
    assert.equal(report.steps.read.items[1].status, 'failed');
    assert.equal(report.steps.combine.status, 'skipped');
    assert.equal(report.steps.combine.skipReason, 'upstream_failed');
  });

  it('with continueOnError every item runs, the run exits 0, and the failure is listed', async (t) => {
    const dir = await notes(t);
    const text = `steps:
  - id: read
    foreach: [notes/a.txt, notes/missing.txt, notes/b.txt]
    continueOnError: true
    file: { action: read, path: "\${item}" }
  - id: combine
    if: steps.read.status != "skipped"
    llm: { model: "echo:x", prompt: "combine \${steps.read.output}" }
`;
    const file = await writeWorkflow(dir, text);
    const json = await run(['run', file, '--json', '--no-store']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.continued, ['read']);
    assert.deepEqual(report.steps.read.output, ['alpha', null, 'beta']);
    assert.equal(report.steps.combine.output, 'combine ["alpha",null,"beta"]');
    const plain = await run(['run', file, '--no-store']);
    assert.equal(plain.code, 0);
    assert.match(plain.stderr, /continued after failure: read/);
    assert.match(plain.stderr, /\[1\] read .*missing\.txt: no such file or folder/);
  });
});
