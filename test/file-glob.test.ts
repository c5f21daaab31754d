/**
 * `file: { action: glob }` through the real CLI (run `npm run build` first): what `validate` says about a bad
 * pattern, where, what a run lists, what `plan` orders, and that a model's answer cannot point a glob outside.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

describe('a glob step', () => {
  it('is checked by `validate`, each mistake located and explained', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: no-pattern
    file: { action: glob }
  - id: with-path
    file: { action: glob, pattern: "notes/*.txt", path: notes }
  - id: absolute
    file: { action: glob, pattern: "/etc/*" }
  - id: climbs
    file:
      action: glob
      pattern: "notes/../../*"
  - id: wrong-op
    file: { action: read, pattern: "notes/*.txt" }
  - id: typo
    file: { action: glob, patern: "notes/*" }
`,
    );
    const result = await run(['validate', file]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.split('\n').filter((l) => l.startsWith(`${file}:`) || l.includes('error:'));
    const expected: [string, RegExp][] = [
      ['3:5', /step `no-pattern` → file needs `pattern`/],
      ['5:57', /step `with-path` → file: `path` is not used by `glob`/],
      ['7:36', /step `absolute` → file: expected a pattern relative to the workflow's folder \(`notes\/\*\.txt`\), got the absolute `\/etc\/\*`/],
      ['11:16', /step `climbs` → file: expected a pattern inside the workflow's folder, got `notes\/\.\.\/\.\.\/\*`, which climbs out of it with `\.\.`/],
      ['13:5', /step `wrong-op` → file needs `path`/],
      ['13:36', /step `wrong-op` → file: `pattern` is only used by `glob`, not `read`: did you mean `action: glob`\?/],
      ['15:27', /unknown key `patern` in step `typo` → file/],
    ];
    for (const [at, message] of expected) {
      assert.ok(lines.some((l) => l.includes(`:${at}: error:`) && message.test(l)), `${at} ${message}\n${result.stderr}`);
    }
    assert.match(result.stderr, /hint: did you mean `pattern`\?/);
    assert.doesNotMatch(result.stderr, /step `typo` → file needs `pattern`/, 'a typo is told once');
    assert.match(result.stderr, /7 problems found; nothing was run/);
  });

  it('lists the files an earlier step wrote, and `plan` shows why it waits', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'notes/sub'), { recursive: true });
    await writeFile(join(dir, 'notes/sub/deep.txt'), 'deep');
    await writeFile(join(dir, 'notes/.hidden.txt'), 'hidden');
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: write
    file: { action: write, path: notes/a.txt, content: hello }
  - id: other
    file: { action: write, path: notes/b.md, content: x }
  - id: list
    file: { action: glob, pattern: "notes/*.txt" }
  - id: later
    file: { action: write, path: notes/z.txt, content: later }
`,
    );
    const result = await run(['run', file, '--json', '--no-store']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.steps.list.output, ['notes/a.txt'], 'files only, one folder deep, no dot files, nothing written after it');

    const plan = await run(['plan', file, '--format', 'json', '--no-store']);
    assert.equal(plan.code, 0, plan.stderr);
    const steps = JSON.parse(plan.stdout).steps;
    const label = `glob ${join(dir, 'notes')}/*.txt`;
    assert.deepEqual(steps.list.dependsOn, ['write'], 'not `other`: a .md file is no match');
    assert.deepEqual(steps.list.reasons, [{ step: 'write', kind: 'resource', detail: label }]);
    assert.deepEqual(steps.later.dependsOn, ['list']);
    const text = await run(['plan', file, '--no-store']);
    assert.ok(text.stdout.includes(`list ← write (same ${label})`), text.stdout);
  });

  it('cannot be pointed outside the workflow’s folder by a model’s answer', async (t) => {
    const root = await tempDir(t);
    const wf = join(root, 'wf');
    const outside = join(root, 'outside');
    await mkdir(join(wf, 'notes'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await writeFile(join(wf, 'notes/a.txt'), 'a');
    await symlink(outside, join(wf, 'linked'));
    const file = await writeWorkflow(
      wf,
      `inputs:
  answer: { type: string }
steps:
  - id: ask
    llm: { prompt: "\${inputs.answer}" }
  - id: list
    file: { action: glob, pattern: "\${steps.ask.output}" }
`,
    );
    const answer = async (text: string) => {
      const result = await run(['run', file, '--json', '--no-store', '-i', `answer=${text}`], { env: { CONDUCTOR_MODEL: 'echo' } });
      return { code: result.code, list: JSON.parse(result.stdout).steps.list, stderr: result.stderr };
    };
    for (const text of ['../outside/*.txt', 'linked/*.txt', `${outside}/*`]) {
      const { code, list } = await answer(text);
      assert.equal(code, 1, text);
      assert.equal(list.errorCode, 'not_allowed', `${text}: ${list.error}`);
    }
    // Braces and classes can spell `..` without writing it: the walk still stays inside.
    for (const text of ['{..,notes}/*', '.[.]/outside/*', '{..,.}/**/*.txt']) {
      const { code, list } = await answer(text);
      assert.equal(code, 0, text);
      assert.ok(list.output.every((p: string) => p.startsWith('notes/')), `${text}: ${JSON.stringify(list.output)}`);
    }
  });
});
