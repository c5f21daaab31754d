import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runWorkflow } from '../../scheduler/run.ts';
import { fileAction } from './index.ts';
import { tempDir, workflow } from '../../../test/support/workflow.ts';

describe('the file action', () => {
  it('resolves relative paths against the workflow file’s folder, not the current one', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'data.txt'), 'hello');
    const spec = workflow(
      `
steps:
  - id: read
    file: { action: read, path: data.txt }
  - id: write
    file: { action: write, path: "out/nested/copy.txt", content: "\${steps.read.output} again" }
`,
      dir,
    );
    assert.notEqual(process.cwd(), dir);
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded');
    assert.equal(report.steps['read']!.output, 'hello');
    assert.equal(report.steps['write']!.output, join(dir, 'out/nested/copy.txt'));
    assert.equal(await readFile(join(dir, 'out/nested/copy.txt'), 'utf8'), 'hello again');
    assert.deepEqual(await readdir(join(dir, 'out/nested')), ['copy.txt'], 'no temporary file is left behind');
  });

  it('appends, checks, lists and deletes; objects are written as JSON', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'notes'));
    const spec = workflow(
      `
inputs:
  record: { type: object, default: { a: 1 } }
steps:
  - id: first
    file: { action: append, path: notes/log.txt, content: "one\\n" }
  - id: second
    file: { action: append, path: notes/log.txt, content: "two\\n" }
  - id: json
    file: { action: write, path: notes/record.json, content: "\${inputs.record}" }
  - id: names
    file: { action: list, path: notes }
  - id: there
    file: { action: exists, path: notes/log.txt }
  - id: gone
    file: { action: delete, path: notes/record.json }
  - id: missing
    file: { action: exists, path: notes/record.json }
`,
      dir,
    );
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded', report.error);
    assert.equal(await readFile(join(dir, 'notes/log.txt'), 'utf8'), 'one\ntwo\n');
    assert.deepEqual(report.steps['names']!.output, ['log.txt', 'record.json']);
    assert.equal(report.steps['there']!.output, true);
    assert.equal(report.steps['gone']!.output, true);
    assert.equal(report.steps['missing']!.output, false);
  });

  it('orders steps that touch the same file, so they never race', async (t) => {
    const dir = await tempDir(t);
    // No step references another: only the shared path orders them. Without ordering, the read could run
    // before the write and see the old content.
    const spec = workflow(
      `
steps:
  - id: write
    file: { action: write, path: shared.txt, content: new }
  - id: read
    file: { action: read, path: shared.txt }
`,
      dir,
    );
    await writeFile(join(dir, 'shared.txt'), 'old');
    const events: string[] = [];
    const report = await runWorkflow(spec, { onEvent: (e) => (e.type === 'step:start' || e.type === 'step:end') && events.push(`${e.type} ${e.stepId}`) });
    assert.deepEqual(events, ['step:start write', 'step:end write', 'step:start read', 'step:end read']);
    assert.equal(report.steps['read']!.output, 'new');
  });

  it('fails a read of a missing file, naming the path', async (t) => {
    const dir = await tempDir(t);
    const report = await runWorkflow(workflow(`steps:\n  - id: read\n    file: { action: read, path: nothere.txt }\n`, dir));
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['read']!.error, `read ${join(dir, 'nothere.txt')}: no such file or folder`);
  });

  it('says which operations change what is at their path (the engine guards those when data chooses it)', () => {
    const changes = (action: unknown) => fileAction.changes!({ action, path: 'x' });
    assert.deepEqual(['read', 'exists', 'list', 'glob'].map(changes), [false, false, false, false]);
    assert.deepEqual(['write', 'append', 'delete', 'unknown'].map(changes), [true, true, true, true]);
    assert.equal(fileAction.destinations!['pattern'], 'path', 'a data-chosen pattern is confined like a path');
  });
});

describe('the file action’s glob', () => {
  const problems = (block: unknown) => {
    const parsed = fileAction.schema.safeParse(block);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes a `pattern` and no `path`; the other operations take a `path` and no `pattern`', () => {
    assert.deepEqual(problems({ action: 'glob', pattern: 'notes/*.txt' }), []);
    assert.deepEqual(problems({ action: 'glob', pattern: '${steps.pick.output}' }), []);
    assert.deepEqual(problems({ action: 'glob' }), ['pattern: expected a glob pattern (a string, such as `notes/*.txt`)']);
    assert.deepEqual(problems({ action: 'glob', pattern: 'n/*', path: 'n' }), ['path: `path` is not used by `glob`: write the folder into `pattern` (`notes/*.txt`)']);
    assert.deepEqual(problems({ action: 'glob', pattern: 'n/*', content: 'x' }), ['content: `content` is only used by `write` and `append`, not `glob`']);
    assert.deepEqual(problems({ action: 'read', pattern: 'n/*' }), ['path: expected a path (a string)', 'pattern: `pattern` is only used by `glob`, not `read`: did you mean `action: glob`?']);
    assert.deepEqual(problems({ action: 'list', path: 'n', pattern: 'n/*' }), ['pattern: `pattern` is only used by `glob`, not `list`']);
    assert.match(problems({ action: 'glob', pattern: '/etc/*' })[0]!, /^pattern: expected a pattern relative to the workflow's folder/);
    assert.match(problems({ action: 'glob', pattern: 'a/../../b/*' })[0]!, /^pattern: expected a pattern inside the workflow's folder/);
    assert.deepEqual(problems({ action: 'glob', pattern: '' }), ['pattern: expected a non-empty pattern']);
  });

  it('sees the files earlier steps wrote, and not those later steps write', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'notes'));
    await writeFile(join(dir, 'notes/old.txt'), 'old');
    const spec = workflow(
      `
steps:
  - id: early
    file: { action: write, path: notes/new.txt, content: x }
  - id: list
    file: { action: glob, pattern: "notes/*.txt" }
  - id: late
    file: { action: write, path: notes/late.txt, content: x }
  - id: none
    file: { action: glob, pattern: "notes/*.csv" }
`,
      dir,
    );
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded', report.error);
    assert.deepEqual(report.steps['list']!.output, ['notes/new.txt', 'notes/old.txt']);
    assert.deepEqual(report.steps['none']!.output, [], 'no match is an empty list, not a failure');
  });

  it('keeps a data-chosen pattern inside the workflow’s folder', async (t) => {
    const dir = await tempDir(t);
    const spec = workflow(
      `
inputs:
  answer: { type: string }
config: { model: echo }
steps:
  - id: ask
    llm: { prompt: "\${inputs.answer}" }
  - id: list
    file: { action: glob, pattern: "\${steps.ask.output}" }
`,
      dir,
    );
    const report = await runWorkflow(spec, { inputs: { answer: '../*' } });
    assert.equal(report.steps['list']!.status, 'failed');
    assert.equal(report.steps['list']!.errorCode, 'not_allowed');
  });
});

describe('the file action’s ordering of steps over a list', () => {
  it('orders a write and a read of the same `${item}` path, even over a list a step made', async () => {
    const { parseWorkflow } = await import('../../definition/load.ts');
    const spec = parseWorkflow(
      [
        'steps:',
        '  - id: list',
        '    llm: { prompt: x, model: echo }',
        '  - id: write',
        '    foreach: ${steps.list.output}',
        '    file: { action: write, path: "out/${item}.md", content: x }',
        '  - id: read',
        '    foreach: ${steps.list.output}',
        '    file: { action: read, path: "out/${item}.md" }',
        '  - id: chosen',
        '    file: { action: read, path: "out/${steps.list.output}.md" }',
        '',
      ].join('\n'),
      '/tmp/wf.yaml',
    );
    const node = (id: string) => spec.plan.steps[spec.plan.byId.get(id)!]!;
    const deps = (id: string) => node(id).dependsOn.map((d) => spec.plan.steps[d]!.id);
    assert.deepEqual(deps('read'), ['list', 'write']);
    assert.deepEqual(deps('chosen'), ['list'], 'a path a step output chooses is not known before the run');
  });
});
