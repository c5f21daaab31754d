/** `conductor plan` and the timeline of a real run, through the CLI. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

describe('conductor plan', { timeout: 60_000 }, () => {
  it('prints the mixed example as exactly its three stages, without running anything', async () => {
    const result = await run(['plan', 'examples/mixed.yaml']);
    assert.equal(result.code, 0);
    assert.deepEqual(result.stdout.split('\n').filter((l) => /^\d+\. /.test(l)), ['1. read_file', '2. process1, process2, process3   (in parallel)', '3. combine']);
    const json = JSON.parse((await run(['plan', 'examples/mixed.yaml', '--format', 'json'])).stdout);
    assert.deepEqual(json.stages, [['read_file'], ['process1', 'process2', 'process3'], ['combine']]);
    assert.deepEqual(json.criticalPath, ['read_file', 'process1', 'combine']);
    assert.deepEqual(json.steps.process2, { action: 'llm', dependsOn: ['read_file'], reasons: [{ step: 'read_file', kind: 'reference', detail: '${steps.read_file.output}' }] });
    assert.match((await run(['plan', 'examples/mixed.yaml', '--format', 'mermaid'])).stdout, /^flowchart LR/);
    assert.match((await run(['plan', 'examples/mixed.yaml', '--format', 'dot'])).stdout, /^digraph workflow/);
  });

  it('after a run, expects what the record says the steps took: time, critical path, and inputs that match', async (t) => {
    const dir = await tempDir(t);
    server.route('/exp/slow', (_req, res) => void setTimeout(() => reply(res, 200, 'slow'), 300));
    server.fallback((req, res) => reply(res, 200, req.path));
    const file = await writeWorkflow(
      dir,
      `inputs:\n  topic: { type: string }\nconfig:\n  maxConcurrency: 2\nsteps:\n  - id: q1\n    http: { url: "${server.url}/exp/q1?t=\${inputs.topic}" }\n  - id: q2\n    http: { url: "${server.url}/exp/q2?after=\${steps.q1.statusCode}" }\n  - id: slow\n    http: { url: "${server.url}/exp/slow" }\n`,
    );
    const store = ['--store', join(dir, 'runs.db')];
    const plan = async (...args: string[]) => JSON.parse((await run(['plan', file, '--format', 'json', ...args])).stdout);

    const before = await plan('-i', 'topic=whales', ...store);
    assert.deepEqual(before.criticalPath, ['q1', 'q2'], 'nothing recorded: two calls outweigh one');
    assert.equal(before.expected, undefined);

    assert.equal((await run(['run', file, '-i', 'topic=whales', ...store])).code, 0);
    const after = await plan('-i', 'topic=whales', ...store);
    assert.deepEqual(after.criticalPath, ['slow'], 'what the steps took decides');
    assert.equal(after.expected.timedSteps, 3);
    assert.ok(after.steps.slow.expectedMs >= 300 && after.steps.slow.expectedMs > after.steps.q1.expectedMs + after.steps.q2.expectedMs);
    assert.equal(after.expected.criticalPathMs, after.steps.slow.expectedMs);
    assert.ok(after.expected.ms >= after.expected.criticalPathMs);
    const text = (await run(['plan', file, '-i', 'topic=whales', ...store])).stdout;
    assert.match(text, /^Critical path: slow \(1 step, about \d+ ms\)$/m);
    assert.match(text, /^Expected time: about .+, from earlier runs \(3 of 3 steps timed\)$/m);

    assert.equal((await plan('-i', 'topic=otters', ...store)).expected.timedSteps, 2, 'q1 with another topic is another call');
    assert.equal((await plan(...store)).expected.timedSteps, 2, 'no value for the input: q1 cannot be matched');
    assert.deepEqual((await plan('--no-store', ...store)).criticalPath, ['q1', 'q2']);
    await writeFile(file, (await readFile(file, 'utf8')).replaceAll('/exp/', '/exp2/'));
    assert.equal((await plan('-i', 'topic=whales', ...store)).expected, undefined, 'every step changed: nothing to go by');
    const wrong = await run(['plan', file, '-i', 'topik=whales', ...store]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown input `topik`\n {2}hint: did you mean `topic`\?/);
  });

  it('after a run, expects the tokens the model calls used, and a median for a call it has not seen', async (t) => {
    const dir = await tempDir(t);
    addLlmRoutes(server); // answers "openai: <prompt>"; the stand-in counts words as tokens
    const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'test-key-0123456789' };
    const step = (id: string, prompt: string) => `  - id: ${id}\n    llm: { model: "openai:gpt-test", prompt: "${prompt}" }\n`;
    const file = await writeWorkflow(dir, `steps:\n${step('a', 'one two three')}${step('b', 'four five')}`);
    const store = ['--store', join(dir, 'runs.db')];
    assert.equal((await run(['run', file, ...store], { env })).code, 0);
    // Planned as run: the same endpoint (OPENAI_BASE_URL) is part of what matches a step to its history.
    const plan = async () => JSON.parse((await run(['plan', file, '--format', 'json', ...store], { env })).stdout);
    assert.deepEqual((await plan()).expected.tokens, { input: 3 + 2, output: 4 + 3, knownCalls: 2 });

    await writeFile(file, `steps:\n${step('a', 'one two three')}${step('b', 'four five')}${step('c', 'a new question')}`);
    assert.deepEqual((await plan()).expected.tokens, { input: 8, output: 11, knownCalls: 2 }, 'c counts as the median of a and b: 2.5 in, 3.5 out');
    assert.match((await run(['plan', file, ...store], { env })).stdout, /^Expected tokens: about 8 in, 11 out \(2 of 3 LLM calls from earlier runs\)$/m);
  });

  it('bad formats and invalid workflows exit 2', async () => {
    const format = await run(['plan', 'examples/mixed.yaml', '--format', 'png']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /`--format png`: expected one of text, json, mermaid, dot/);
    const invalid = await run(['plan', 'test/fixtures/invalid/cycle.yaml']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /dependency cycle: a → c → b → a/);
  });
});

describe('the timeline of a real run', { timeout: 60_000 }, () => {
  it('draws one bar per step, overlapping where the steps did, as SVG, HTML and text', async (t) => {
    const dir = await tempDir(t);
    // a and b are answered only once both have arrived, so they certainly overlap; c waits for a, and is
    // answered only after b has ended, so c ends last: the chain that decided the run is a → c.
    const both = () => server.byPath('/tl/a').length === 1 && server.byPath('/tl/b').length === 1;
    server.route('/tl/a', async (_req, res) => (await server.until(both), reply(res, 200, 'a')));
    server.route('/tl/b', async (_req, res) => (await server.until(both), reply(res, 200, 'b')));
    server.route('/tl/c', async (_req, res) => {
      await server.until(() => server.byPath('/tl/b')[0]?.endedAt !== undefined);
      setTimeout(() => reply(res, 200, 'c'), 30); // margin for the client to take in b's answer first
    });
    const file = await writeWorkflow(dir, `steps:\n  - id: a\n    http: { url: "${server.url}/tl/a" }\n  - id: b\n    http: { url: "${server.url}/tl/b" }\n  - id: c\n    http: { url: "${server.url}/tl/c?after=\${steps.a.output}" }\n`);
    const store = ['--store', join(dir, 'runs.db')];
    const report = JSON.parse((await run(['run', file, '--json', ...store])).stdout);

    const written = await run(['runs', 'show', report.runId, '--out', join(dir, 'timeline.svg'), ...store]);
    assert.equal(written.code, 0, written.stderr);
    const svg = await readFile(join(dir, 'timeline.svg'), 'utf8');
    const bars = Object.fromEntries(
      [...svg.matchAll(/<rect class="([^"]+)" data-step="(\w+)" data-start="(\d+)" data-end="(\d+)"/g)].map(([, cls, id, start, end]) => [id!, { cls: cls!, start: Number(start), end: Number(end) }]),
    );
    assert.deepEqual(Object.keys(bars), ['a', 'b', 'c']);
    const { a, b, c } = bars as Record<'a' | 'b' | 'c', { cls: string; start: number; end: number }>;
    assert.ok(a.start < b.end && b.start < a.end, 'a and b overlap');
    assert.ok(c.start >= a.end, 'c starts after a ends');
    assert.match(c.cls, /critical/);
    assert.match(a.cls, /critical/);
    assert.doesNotMatch(b.cls, /critical/);

    await run(['runs', 'show', report.runId, '--timeline', '--out', join(dir, 'timeline.html'), ...store]);
    assert.match(await readFile(join(dir, 'timeline.html'), 'utf8'), /^<!doctype html>[\s\S]*<rect class="bar/);
    const text = await run(['runs', 'show', report.runId.slice(0, 8), '--timeline', ...store], { env: { NO_COLOR: '' } });
    assert.equal(text.code, 0);
    assert.equal(text.stdout.split('\n').filter((l) => l.includes('▕')).length, 3);
    assert.doesNotMatch(text.stdout, /\u001b\[/, 'not a terminal: no colour, even without NO_COLOR');
    const bad = await run(['runs', 'show', report.runId, '--out', join(dir, 'x.png'), ...store]);
    assert.equal(bad.code, 2);
  });
});
