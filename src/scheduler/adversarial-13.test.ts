/**
 * Adversarial review of #13 (foreach, if, continueOnError, glob) through the library: what data can do to the new
 * inputs. Each defect found failed here before its fix; the rest guard what was probed and holds. Deterministic: a test action (`ctl`) answers what
 * the test says, no clock, no network.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { tempDir } from '../../test/support/workflow.ts';
import { globFiles } from '../actions/file/glob.ts';
import { builtinActions } from '../actions/builtin.ts';
import { ActionRegistry } from '../actions/registry.ts';
import type { RunEvent } from '../core/events.ts';
import { parseWorkflow } from '../definition/load.ts';
import { runWorkflow } from './run.ts';

/** The built-in actions and `ctl: { k }`, which answers `answer` (or `k` when none is given). */
function withCtl(answer?: unknown): ActionRegistry {
  return new ActionRegistry([
    ...builtinActions().all(),
    { name: 'ctl', description: 'a test action', schema: z.strictObject({ k: z.unknown() }), run: async (input: { k: unknown }) => ({ output: answer === undefined ? input.k : answer }) },
  ]);
}

function spec(text: string, dir: string, actions: ActionRegistry) {
  return parseWorkflow(text, join(dir, 'workflow.yaml'), { actions });
}

/** Runs the workflow; the report and every event, as JSON text too (to look for a value anywhere in them). */
async function runAll(text: string, dir: string, actions: ActionRegistry, options: { inputs?: Record<string, unknown>; env?: Record<string, string> } = {}) {
  const events: RunEvent[] = [];
  const report = await runWorkflow(spec(text, dir, actions), { actions, env: options.env ?? {}, ...(options.inputs ? { inputs: options.inputs } : {}), onEvent: (e) => events.push(e) });
  return { report, events, text: JSON.stringify(report) + '\n' + JSON.stringify(events) };
}

describe('adversarial #13: data never chooses a destination through a foreach item', () => {
  it('items from a step output may not pick a path, URL, Host header, model or glob outside (nested, `as`, arrays of arrays)', async (t) => {
    const dir = await tempDir(t);
    const outside = await tempDir(t);
    await writeFile(join(outside, 'secret.txt'), 'TOPSECRET');
    await symlink(outside, join(dir, 'link'));
    const cases: [string, unknown, string][] = [
      ['file: { action: write, path: "${item}", content: x }', ['../pwn', join(outside, 'pwn'), 'link/pwn', '.git/hooks/pre-commit', 'workflow.yaml', '.'], 'item'],
      ['file: { action: read, path: "${item.p}" }', [{ p: 'link/secret.txt' }, { p: `../${outside.split('/').pop()}/secret.txt` }], 'item'],
      ['file: { action: read, path: "${doc}" }', ['link/secret.txt'], 'doc'],
      ['file: { action: read, path: "${item[0]}" }', [['link/secret.txt']], 'item'],
      ['file: { action: glob, pattern: "${item}" }', ['../*', '/etc/*', 'link/*', 'link/**'], 'item'],
      ['http: { url: "${item}" }', ['http://127.0.0.1:9/x'], 'item'],
      ['http: { url: "http://127.0.0.1:9/api/${item}" }', ['..'], 'item'],
      ['http: { url: "http://127.0.0.1:9/api", headers: { Host: "${item}" } }', ['evil.example'], 'item'],
      ['llm: { model: "${item}", prompt: hi }', ['echo:x'], 'item'],
      ['llm: { model: "${item.m}", prompt: hi }', [{ m: 'echo:x' }], 'item'],
    ];
    for (const [block, list, as] of cases) {
      const text = `steps:\n  - id: src\n    ctl: { k: 1 }\n  - id: each\n    foreach: \${steps.src.output}\n${as === 'item' ? '' : `    as: ${as}\n`}    continueOnError: true\n    ${block}\n`;
      const { report } = await runAll(text, dir, withCtl(list));
      const items = report.steps['each']!.items!;
      assert.deepEqual(items.map((i) => i.errorCode), items.map(() => 'not_allowed'), `${block} over ${JSON.stringify(list)}`);
    }
  });

  it('a literal list is decided item by item: a step reference inside it is data, the author’s text is not', async (t) => {
    const dir = await tempDir(t);
    const outside = await tempDir(t);
    await writeFile(join(outside, 'secret.txt'), 'TOPSECRET');
    await symlink(outside, join(dir, 'link'));
    const text = `steps:\n  - id: src\n    ctl: { k: 1 }\n  - id: each\n    foreach: ["\${steps.src.output}", { p: "\${steps.src.output}" }, link/secret.txt]\n    continueOnError: true\n    file: { action: read, path: "\${item.p}" }\n`;
    const { report } = await runAll(text.replace('${item.p}', '${item}'), dir, withCtl('link/secret.txt'));
    const items = report.steps['each']!.items!;
    assert.equal(items[0]!.errorCode, 'not_allowed');
    assert.equal(items[2]!.status, 'succeeded'); // the author's own path through the author's own symlink
  });
});

describe('adversarial #13: conditions', () => {
  it('values with quotes, newlines and `|| true` never change what a condition means', async (t) => {
    const dir = await tempDir(t);
    for (const answer of ['" || true || "', "x' || true || 'x", 'a"\n|| true', '${true}', '\\" || true']) {
      const text = `steps:\n  - id: src\n    ctl: { k: 1 }\n  - id: gated\n    if: steps.src.output == "yes"\n    ctl: { k: ran }\n`;
      const { report } = await runAll(text, dir, withCtl(answer));
      assert.equal(report.steps['gated']!.status, 'skipped', JSON.stringify(answer));
    }
  });

  it(
    'a condition that fails on a secret never prints it: `duration(env.KEY)` and `bool(env.KEY)`',
    async (t) => {
      const dir = await tempDir(t);
      const key = 'sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX';
      const text = `steps:\n  - id: a\n    if: duration(env.OPENAI_API_KEY) > duration("1s")\n    continueOnError: true\n    ctl: { k: 1 }\n  - id: b\n    if: bool(steps.src.output)\n    continueOnError: true\n    ctl: { k: 1 }\n  - id: src\n    ctl: { k: 1 }\n`;
      // `src` answers a value nobody declared a secret (a token in a response): the message must not quote it either.
      const { report, text: all } = await runAll(text, dir, withCtl('tok-live-QRSTUVWXYZ0123456789'), { env: { OPENAI_API_KEY: key } });
      assert.equal(report.steps['a']!.errorCode, 'condition_error');
      assert.equal(report.steps['b']!.errorCode, 'condition_error');
      assert.ok(!all.includes('ABCDEFGHIJKLMNOP'), 'the API key (or most of it) is in the report or an event');
      // (src's own output shows the value, as any output nobody declared secret does; its error must not.)
      for (const id of ['a', 'b']) assert.ok(!JSON.stringify(report.steps[id]).includes('QRSTUVWXYZ0123'), `a step value is quoted in ${id}'s condition error`);
      assert.match(report.steps['b']!.error!, /could not be evaluated \(bool conversion error\)/);
    },
  );
});

describe('adversarial #13: secrets in items', () => {
  it('a secret-named list input shows as *** in items, events and errors', async (t) => {
    const dir = await tempDir(t);
    const text = `inputs:\n  api_key: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.api_key}\n    continueOnError: true\n    file: { action: read, path: "missing/\${item}.txt" }\n  - id: echo\n    foreach: \${inputs.api_key}\n    llm: { model: "echo:x", prompt: "key \${item}" }\noutputs:\n  o: \${steps.echo.output}\n  items: \${steps.each.items}\n`;
    const { text: all } = await runAll(text, dir, withCtl(), { inputs: { api_key: ['sk-live-AAAABBBBCCCC1111', 'sk-live-DDDDEEEEFFFF2222'] } });
    assert.ok(!/AAAABBBB|DDDDEEEE/.test(all), 'a key is in the report or an event');
  });

  it(
    'a plural secret-named list input (`api_keys`, `tokens`) is a secret too',
    async (t) => {
      const dir = await tempDir(t);
      for (const name of ['api_keys', 'tokens', 'passwords', 'apiKeys']) {
        const text = `inputs:\n  ${name}: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.${name}}\n    llm: { model: "echo:x", prompt: "key \${item}" }\noutputs:\n  o: \${steps.each.output}\n`;
        const { text: all } = await runAll(text, dir, withCtl(), { inputs: { [name]: ['sk-live-AAAABBBBCCCC1111', 'sk-live-DDDDEEEEFFFF2222'] } });
        assert.ok(!/AAAABBBB|DDDDEEEE/.test(all), `input \`${name}\`: a key is in the report or an event`);
      }
    },
  );
});

describe('adversarial #13: big and deep data', () => {
  it(
    'a deeply nested step output in a foreach list does not throw the run: it ends, with run:end',
    async (t) => {
      const dir = await tempDir(t);
      let deep: unknown = 1;
      for (let i = 0; i < 20_000; i++) deep = [deep];
      const text = `steps:\n  - id: src\n    ctl: { k: 1 }\n  - id: each\n    foreach: \${steps.src.output}\n    continueOnError: true\n    llm: { model: "echo:x", prompt: "p \${foreach.index}" }\n`;
      const { report, events } = await runAll(text, dir, withCtl([deep, 'x']));
      assert.ok(events.some((e) => e.type === 'run:end'));
      // The items do not use the deep value: they run; the deep one is never reused by a resume (its key matches nothing).
      assert.equal(report.steps['each']!.status, 'succeeded');
      const keys = events.flatMap((e) => (e.type === 'item:end' ? [e.key] : []));
      assert.match(keys[0]!, /^unreusable:/);
    },
  );

  it('100,000 instant items with maxConcurrency 1000 end in order, each once', async (t) => {
    const dir = await tempDir(t);
    const list = Array.from({ length: 100_000 }, (_, i) => i);
    const text = `config:\n  maxItems: 200000\n  maxConcurrency: 1000\ninputs:\n  list: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.list}\n    maxConcurrency: 1000\n    ctl: { k: "\${item}" }\n`;
    const actions = withCtl();
    const report = await runWorkflow(spec(text, dir, actions), { actions, env: {}, inputs: { list } });
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.steps['each']!.output, list);
  });
});

describe('adversarial #13: glob', () => {
  it(
    'never lists `.git` or anything in it, through a symlinked file or folder either',
    async (t) => {
      const dir = await tempDir(t);
      await mkdir(join(dir, '.git'));
      await mkdir(join(dir, 'notes/sub'), { recursive: true });
      await writeFile(join(dir, '.git/config'), '[remote "origin"]\n  url = https://user:token@example.com/r.git\n');
      await writeFile(join(dir, 'notes/a.txt'), 'a');
      await symlink('../.git/config', join(dir, 'notes/cfg.txt'));
      await symlink('../../.git', join(dir, 'notes/sub/gitdir'));
      const signal = new AbortController().signal;
      assert.deepEqual(await globFiles(dir, '**', signal), ['notes/a.txt']);
      assert.deepEqual(await globFiles(dir, 'notes/sub/gitdir/*', signal), []);
    },
  );

  it('braces, classes and extglobs that spell `..` or `.git` stay inside; symlink loops end', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, '.git'));
    await mkdir(join(dir, 'notes'));
    await writeFile(join(dir, '.git/config'), 'x');
    await writeFile(join(dir, 'notes/a.txt'), 'a');
    await symlink('loop2', join(dir, 'notes/loop1'));
    await symlink('loop1', join(dir, 'notes/loop2'));
    await symlink('/etc', join(dir, 'notes/etc'));
    const signal = new AbortController().signal;
    for (const pattern of ['{..,x}/*', '[.][.]/*', '@(..)/*', '.git/*', '.GIT/*', '{.git,x}/*', '[.]git/*', '+(.|x)git/*', '**/.git/**', 'notes/loop1/*', 'notes/etc/*', 'notes/etc/passwd']) {
      assert.deepEqual(await globFiles(dir, pattern, signal), [], pattern);
    }
  });
});

describe('adversarial #13: templates over items', () => {
  it(
    '`${item.constructor}` and `${item.__proto__}` are keys that do not exist, not the prototype’s',
    async (t) => {
      const dir = await tempDir(t);
      for (const ref of ['item.constructor', 'item.__proto__', 'item.toString']) {
        const text = `steps:\n  - id: each\n    foreach: [{ a: 1 }]\n    continueOnError: true\n    ctl: { k: "\${${ref}}" }\n`;
        const { report } = await runAll(text, dir, withCtl());
        assert.equal(report.steps['each']!.items![0]!.errorCode, 'template', ref);
      }
    },
  );
});
