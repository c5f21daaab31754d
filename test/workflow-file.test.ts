/**
 * What a workflow file may hold that is not what its author meant, and how every command answers it: text in
 * another tool's template syntax, bytes that are not UTF-8, nesting without end, a YAML mistake. Through the
 * built binary, as users meet it.
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, run } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const ECHO = { env: { CONDUCTOR_MODEL: 'echo' } };

describe('a template in another tool’s syntax', { timeout: 180_000 }, () => {
  const text = 'steps:\n  - id: a\n    llm: { prompt: "Name a whale" }\n  - id: b\n    llm:\n      prompt: "Describe {{.steps.a.response}}"\noutputs:\n  b: ${steps.b.output}\n';
  const frame = /workflow\.yaml:6:25: warning: `\{\{\.steps\.a\.response\}\}` is sent as written: Conductor's templates are `\$\{…\}`, so this step does not wait for `a`\n {2}6 \| {7}prompt: "Describe \{\{\.steps\.a\.response\}\}"\n {4}\| {25}\^\n {2}hint: write `\$\{steps\.a\.output\}`\n/;

  it('validate: a warning with file:line:col, a code frame and the ${…} spelling; still valid, exit 0', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, text);
    const human = await run(['validate', 'workflow.yaml'], { cwd: dir });
    assert.equal(human.code, 0);
    assert.match(human.stderr, frame);
    assert.equal(human.stdout, '✓ workflow.yaml is valid: 2 steps in 1 stage, critical path 1 (1 warning)\n');

    const json = await run(['validate', 'workflow.yaml', '--json'], { cwd: dir });
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), [
      {
        file: 'workflow.yaml',
        line: 6,
        column: 25,
        code: 'foreign_template',
        message: "`{{.steps.a.response}}` is sent as written: Conductor's templates are `${…}`, so this step does not wait for `a`",
        hint: 'write `${steps.a.output}`',
        severity: 'warning',
        docs: 'docs/language.md#templates',
      },
    ]);
  });

  it('validate: listed with the problems of an invalid file, in file order, and counted apart', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, text.replace('${steps.b.output}', '${steps.c.output}'));
    const result = await run(['validate', 'workflow.yaml'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, frame);
    assert.match(result.stderr, /workflow\.yaml:8:6: error: unknown step `c`/);
    assert.ok(result.stderr.indexOf('warning:') < result.stderr.indexOf('error:'));
    assert.match(result.stderr, /\n1 problem and 1 warning found; nothing was run\.\n$/);
    const json = JSON.parse((await run(['validate', 'workflow.yaml', '--json'], { cwd: dir })).stdout) as { severity: string }[];
    assert.deepEqual(json.map((d) => d.severity), ['warning', 'error']);
  });

  it('run and plan: the warning on stderr before anything starts; --json output stays one document', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, text);
    const human = await run(['run', 'workflow.yaml', '--no-store'], { cwd: dir, ...ECHO });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, frame);
    assert.ok(human.stderr.indexOf('warning:') < human.stderr.indexOf('conductor: 2 steps'), human.stderr);
    // What the warning is about: the text went to the model as written.
    assert.equal(human.stdout, 'b: Describe {{.steps.a.response}}\n');

    const json = await run(['run', 'workflow.yaml', '--no-store', '--json'], { cwd: dir, ...ECHO });
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).status, 'succeeded');
    assert.match(json.stderr, frame);

    const plan = await run(['plan', 'workflow.yaml', '--format', 'json', '--no-store'], { cwd: dir });
    assert.equal(plan.code, 0);
    assert.deepEqual(JSON.parse(plan.stdout).stages, [['a', 'b']]);
    assert.match(plan.stderr, frame);
  });

  it('a workflow without any prints no warning', async () => {
    const result = await run(['plan', 'examples/mixed.yaml', '--no-store']);
    assert.equal(result.stderr, '');
  });
});

describe('a file that is not UTF-8', { timeout: 180_000 }, () => {
  it('is exit 2 at the line and column of the first bad byte, for every command', async (t) => {
    const dir = await tempDir(t);
    // "café" written by an editor set to Latin-1: é is the one byte 0xE9.
    const bytes = Buffer.concat([Buffer.from('steps:\n  - id: a\n    llm:\n      prompt: "caf'), Buffer.from([0xe9]), Buffer.from(' au lait"\n')]);
    await writeFile(join(dir, 'workflow.yaml'), bytes);
    for (const command of ['validate', 'run', 'plan']) {
      const result = await run([command, 'workflow.yaml'], { cwd: dir, ...ECHO });
      assert.equal(result.code, 2, command);
      assert.match(result.stderr, /^workflow\.yaml:4:19: error: the file is not valid UTF-8: byte 0xE9 here does not start a UTF-8 character\n {2}4 \| {7}prompt: "caf\uFFFD au lait"\n {4}\| {19}\^\n/, command);
      assert.match(result.stderr, /\n1 problem found; nothing was run\.\n$/);
    }
    const json = JSON.parse((await run(['validate', 'workflow.yaml', '--json'], { cwd: dir })).stdout) as { line: number; column: number; code: string }[];
    assert.deepEqual(json.map((d) => [d.line, d.column, d.code]), [[4, 19, 'invalid_utf8']]);
  });
});

describe('nesting without end', { timeout: 180_000 }, () => {
  it('50,000 levels of `[` or `{a: ` is exit 2 "nested too deeply", with a short excerpt of the line', async (t) => {
    const dir = await tempDir(t);
    const n = 50_000;
    for (const [name, body] of [['lists.yaml', `${'['.repeat(n)}${']'.repeat(n)}`], ['maps.yaml', `${'{a: '.repeat(n)}x${'}'.repeat(n)}`]] as const) {
      await writeWorkflow(dir, `steps: ${body}\n`, name);
      for (const command of ['validate', 'run']) {
        const result = await run([command, name], { cwd: dir });
        assert.equal(result.code, 2, `${command} ${name}: ${result.stderr.slice(0, 500)}`);
        assert.match(result.stderr, new RegExp(`^${name.replace('.', '\\.')}:1:\\d+: error: nested too deeply: more than 100 levels of lists and maps\\n`));
        assert.match(result.stderr, /\n1 problem found; nothing was run\.\n$/);
        // The code frame shows the part of the 250 KB line around the caret, not the line.
        assert.ok(result.stderr.length < 1_000, `${result.stderr.length} characters`);
        assert.match(result.stderr, /\n {2}1 \| …[[{a: ]+…\n {4}\| +\^\n/);
      }
    }
  });
});

describe('a YAML syntax mistake', { timeout: 180_000 }, () => {
  it('is printed once, where it was made', async (t) => {
    const dir = await tempDir(t);
    const cases: [string, RegExp][] = [
      // The parser reports these twice or more: the quote and the flow map it leaves open; a mapping in a
      // mapping's value as "nested" and as "not on a single line"; a tab; a document ended by a comment.
      ['steps:\n  - id: a\n    llm: {prompt: "x}\n', /^workflow\.yaml:3:19: error: Missing closing "quote\n/],
      ['name: x\n  steps:\n    - id: a\n', /^workflow\.yaml:1:7: error: Nested mappings are not allowed in compact mappings\n/],
      ['steps:\n  - id: a\n\t  llm: { prompt: hi }\n', /^workflow\.yaml:3:1: error: Tabs are not allowed as indentation\n/],
      ['---\nwhat\n# a comment\nsteps:\n  - id: a\n    llm: { prompt: hi }\n', /^workflow\.yaml:4:1: error: Unexpected scalar token in YAML stream: "steps"\n/],
    ];
    for (const [text, first] of cases) {
      await writeWorkflow(dir, text);
      for (const command of ['validate', 'run']) {
        const result = await run([command, 'workflow.yaml'], { cwd: dir });
        assert.equal(result.code, 2);
        assert.match(result.stderr, first, `${command}: ${result.stderr}`);
        assert.equal(result.stderr.match(/error:/g)?.length, 1, `${command}: ${result.stderr}`);
        assert.match(result.stderr, /\n1 problem found; nothing was run\.\n$/);
      }
    }
  });
});

describe('the examples', { timeout: 180_000 }, () => {
  it('every one prints its result', async () => {
    server.route('/data', (_req, res) => reply(res, 200, { temperature: 21 }));
    const examples = (await readdir(join(ROOT, 'examples'))).filter((f) => f.endsWith('.yaml'));
    assert.ok(examples.length >= 3);
    for (const example of examples) {
      const inputs = example === 'sequential.yaml' ? ['-i', `url=${server.url}/data`] : [];
      const result = await run(['run', `examples/${example}`, '--no-store', '--quiet', ...inputs], ECHO);
      assert.equal(result.code, 0, `${example}: ${result.stderr}`);
      assert.match(result.stdout, /^\w+: \S/, `${example} printed no output`);
    }
    const parallel = await run(['run', 'examples/parallel.yaml', '--no-store', '--quiet'], ECHO);
    assert.equal(parallel.stdout, 'recipe: Generate a recipe\nworkout: Generate a workout plan\nreading_list: Generate a reading list\n');
  });
});
