/** `conductor plan` and the timeline of a real run, through the CLI. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { fingerprints, seedRun } from './support/seed.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

describe('conductor plan', { timeout: 180_000 }, () => {
  it('prints the mixed example as exactly its three stages, without running anything', async () => {
    const result = await run(['plan', 'examples/mixed.yaml']);
    assert.equal(result.code, 0, result.stderr);
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
    server.fallback((req, res) => reply(res, 200, req.path));
    const file = await writeWorkflow(
      dir,
      `inputs:\n  topic: { type: string }\nconfig:\n  maxConcurrency: 2\nsteps:\n  - id: q1\n    http: { url: "${server.url}/exp/q1?t=\${inputs.topic}" }\n  - id: q2\n    http: { url: "${server.url}/exp/q2?after=\${steps.q1.statusCode}" }\n  - id: slow\n    http: { url: "${server.url}/exp/slow" }\n`,
    );
    const db = join(dir, 'runs.db');
    const store = ['--store', db];
    const plan = async (...args: string[]) => JSON.parse((await run(['plan', file, '--format', 'json', ...args])).stdout);

    const before = await plan('-i', 'topic=whales', ...store);
    assert.deepEqual(before.criticalPath, ['q1', 'q2'], 'nothing recorded: two calls outweigh one');
    assert.equal(before.expected, undefined);

    // A real run records the steps as this build fingerprints them; three more runs of the same steps, with
    // the times a test can rely on, outvote whatever this machine took (expected times are medians).
    const real = await run(['run', file, '-i', 'topic=whales', '--json', ...store]);
    assert.equal(real.code, 0, real.stderr);
    const fingerprint = await fingerprints(db, JSON.parse(real.stdout).runId);
    for (let k = 1; k <= 3; k++) {
      await seedRun(db, file, Date.now() + k, [
        { stepId: 'q1', fingerprint: fingerprint['q1']!, start: 0, end: 40 },
        { stepId: 'q2', fingerprint: fingerprint['q2']!, dependsOn: ['q1'], start: 40, end: 100 },
        { stepId: 'slow', fingerprint: fingerprint['slow']!, start: 0, end: 300 },
      ]);
    }
    const after = await plan('-i', 'topic=whales', ...store);
    assert.deepEqual(after.criticalPath, ['slow'], 'what the steps took decides');
    assert.deepEqual([after.steps.q1.expectedMs, after.steps.q2.expectedMs, after.steps.slow.expectedMs], [40, 60, 300]);
    assert.equal(after.expected.timedSteps, 3);
    assert.equal(after.expected.criticalPathMs, 300);
    assert.ok(after.expected.ms >= after.expected.criticalPathMs);
    const text = (await run(['plan', file, '-i', 'topic=whales', ...store])).stdout;
    assert.match(text, /^Critical path: slow \(1 step, about 300 ms\)$/m);
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
    const first = await run(['run', file, ...store], { env });
    assert.equal(first.code, 0, first.stderr);
    // Planned as run: the same endpoint (OPENAI_BASE_URL) is part of what matches a step to its history.
    const plan = async () => JSON.parse((await run(['plan', file, '--format', 'json', ...store], { env })).stdout);
    assert.deepEqual((await plan()).expected.tokens, { input: 3 + 2, output: 4 + 3, knownCalls: 2 });

    await writeFile(file, `steps:\n${step('a', 'one two three')}${step('b', 'four five')}${step('c', 'a new question')}`);
    assert.deepEqual((await plan()).expected.tokens, { input: 8, output: 11, knownCalls: 2 }, 'c counts as the median of a and b: 2.5 in, 3.5 out');
    assert.match((await run(['plan', file, ...store], { env })).stdout, /^Expected tokens: about 8 in, 11 out \(2 of 3 LLM calls from earlier runs\)$/m);
  });

  it('plans with the model the runs had: `--model` wins over config.model, in run and in plan', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `config:\n  model: openai:gpt-test\nsteps:\n  - id: a\n    llm: { prompt: "hi" }\n`);
    const store = ['--store', join(dir, 'runs.db')];
    const first = await run(['run', file, '--model', 'echo', '--json', ...store]);
    assert.equal(first.code, 0, `no key is needed: echo, not config.model, answered\n${first.stderr}`);
    assert.equal(JSON.parse(first.stdout).steps.a.properties.model, 'echo');
    const plan = async (...args: string[]) => JSON.parse((await run(['plan', file, '--format', 'json', ...args, ...store])).stdout);
    assert.equal((await plan('--model', 'echo')).expected?.timedSteps, 1, 'the run with echo times the step planned with echo');
    assert.equal((await plan()).expected, undefined, 'planned with config.model, the step is another call: nothing to go by');
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

describe('the timeline of a run', { timeout: 180_000 }, () => {
  it('draws one bar per step, overlapping where the steps did', async (t) => {
    const dir = await tempDir(t);
    // a and b are answered only once both have arrived, so they certainly overlap; c waits for a.
    const both = () => server.byPath('/tl/a').length === 1 && server.byPath('/tl/b').length === 1;
    server.route('/tl/a', async (_req, res) => (await server.until(both), reply(res, 200, 'a')));
    server.route('/tl/b', async (_req, res) => (await server.until(both), reply(res, 200, 'b')));
    server.route('/tl/c', (_req, res) => reply(res, 200, 'c'));
    const file = await writeWorkflow(dir, `steps:\n  - id: a\n    http: { url: "${server.url}/tl/a" }\n  - id: b\n    http: { url: "${server.url}/tl/b" }\n  - id: c\n    http: { url: "${server.url}/tl/c?after=\${steps.a.output}" }\n`);
    const store = ['--store', join(dir, 'runs.db')];
    const report = JSON.parse((await run(['run', file, '--json', ...store])).stdout);

    const written = await run(['runs', 'show', report.runId, '--out', join(dir, 'timeline.svg'), ...store]);
    assert.equal(written.code, 0, written.stderr);
    const bars = svgBars(await readFile(join(dir, 'timeline.svg'), 'utf8'));
    assert.deepEqual(Object.keys(bars), ['a', 'b', 'c']);
    const { a, b, c } = bars;
    assert.ok(a!.start < b!.end && b!.start < a!.end, 'a and b overlap');
    assert.ok(c!.start >= a!.end, 'c starts after a ends');
  });

  it('marks the chain that decided the run as critical, as SVG, HTML and text', async (t) => {
    const dir = await tempDir(t);
    const db = join(dir, 'runs.db');
    const store = ['--store', db];
    // Recorded times, not measured ones: which step ended last is then the record's, not this machine's.
    // b overlaps a and ends before c; c waited for a. The run was decided by a → c.
    const runId = await seedRun(db, join(dir, 'workflow.yaml'), Date.now(), [
      { stepId: 'a', fingerprint: 'fa', start: 0, end: 100 },
      { stepId: 'b', fingerprint: 'fb', start: 0, end: 150 },
      { stepId: 'c', fingerprint: 'fc', dependsOn: ['a'], start: 100, end: 220 },
    ]);
    const written = await run(['runs', 'show', runId, '--out', join(dir, 'timeline.svg'), ...store]);
    assert.equal(written.code, 0, written.stderr);
    const bars = svgBars(await readFile(join(dir, 'timeline.svg'), 'utf8'));
    assert.deepEqual(bars, {
      a: { cls: 'bar critical', start: 0, end: 100 },
      b: { cls: 'bar', start: 0, end: 150 },
      c: { cls: 'bar critical', start: 100, end: 220 },
    });

    await run(['runs', 'show', runId, '--timeline', '--out', join(dir, 'timeline.html'), ...store]);
    assert.match(await readFile(join(dir, 'timeline.html'), 'utf8'), /^<!doctype html>[\s\S]*<rect class="bar/);
    const text = await run(['runs', 'show', runId.slice(0, 8), '--timeline', ...store], { env: { NO_COLOR: '' } });
    assert.equal(text.code, 0, text.stderr);
    const rows = text.stdout.split('\n').filter((l) => l.includes('▕'));
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((l) => [l.includes('█'), l.includes('▒')]), [[true, false], [false, true], [true, false]], 'a and c solid, b shaded');
    assert.doesNotMatch(text.stdout, /\u001b\[/, 'not a terminal: no colour, even without NO_COLOR');
    const bad = await run(['runs', 'show', runId, '--out', join(dir, 'x.png'), ...store]);
    assert.equal(bad.code, 2);
  });
});

function svgBars(svg: string): Record<string, { cls: string; start: number; end: number }> {
  return Object.fromEntries([...svg.matchAll(/<rect class="([^"]+)" data-step="(\w+)" data-start="(\d+)" data-end="(\d+)"/g)].map(([, cls, id, start, end]) => [id!, { cls: cls!, start: Number(start), end: Number(end) }]));
}
