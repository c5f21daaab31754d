/**
 * foreach, if and continueOnError in the run loop, against a stand-in HTTP server: what it received, how many
 * of a step's items it had open at once, which requests the client closed. No test waits on the clock;
 * latencies are seeded, and gates are opened once the server has seen what the test waits for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Gate, reply, StandIn, type RecordedRequest } from '../../test/support/stand-in.ts';
import { workflow } from '../../test/support/workflow.ts';
import type { RunEvent } from '../core/events.ts';
import { runWorkflow } from './run.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

/** The most requests under `prefix` the server had open at once (by its own ordering of starts and ends). */
function maxOverlap(requests: RecordedRequest[]): number {
  const marks = requests.flatMap((r) => [[r.startedAt, 1] as const, [r.endedAt ?? Infinity, -1] as const]).sort((a, b) => a[0] - b[0]);
  let open = 0;
  let most = 0;
  for (const [, d] of marks) most = Math.max(most, (open += d));
  return most;
}

const under = (prefix: string) => server.requests.filter((r) => r.path.startsWith(prefix));

/** A seeded generator (mulberry32): the same latencies every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('foreach', () => {
  it("runs an item per element of a step's JSON array, within the step's own cap and the run's limit, in item order", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
    const random = seeded(7);
    const delays = new Map(ids.map((id) => [id, Math.floor(random() * 20)]));
    server.route('/fe/list', (_req, res) => reply(res, 200, ids));
    server.fallback(async (req, res) => {
      const id = req.path.split('/').pop()!;
      // Seeded latencies make items finish out of order; the output must still be in item order.
      await new Promise((resolve) => setTimeout(resolve, delays.get(id) ?? 0));
      reply(res, 200, { id, n: Number(id.slice(1)) });
    });
    const spec = workflow(`
config:
  maxConcurrency: 4
steps:
  - id: list
    http: { url: "${server.url}/fe/list" }
  - id: each
    foreach: \${steps.list.output}
    as: doc
    maxConcurrency: 3
    http: { url: "${server.url}/fe/item/\${doc}?i=\${foreach.index}&of=\${foreach.count}" }
  - id: other
    foreach: [o1, o2, o3, o4, o5, o6]
    http: { url: "${server.url}/fe/other/\${item}" }
`);
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.steps['each']!.output, ids.map((id, n) => ({ id, n })));
    assert.equal(maxOverlap(under('/fe/item/')) <= 3, true, 'the step never had more than 3 items open');
    assert.equal(maxOverlap(under('/fe/')) <= 4, true, 'the run never had more than 4 requests open');
    assert.deepEqual(under('/fe/item/').map((r) => r.url).sort(), ids.map((id, n) => `/fe/item/${id}?i=${n}&of=12`).sort());
    assert.deepEqual(report.steps['each']!.items!.map((i) => [i.index, i.status]), ids.map((_, n) => [n, 'succeeded']));
    assert.equal(report.steps['other']!.output instanceof Array && (report.steps['other']!.output as unknown[]).length, 6);
  });

  it('succeeds with [] over an empty list, and its dependents run', async () => {
    server.route('/empty/list', (_req, res) => reply(res, 200, []));
    server.route('/empty/after', (req, res) => reply(res, 200, { got: req.url }));
    const spec = workflow(`
steps:
  - id: list
    http: { url: "${server.url}/empty/list" }
  - id: each
    foreach: \${steps.list.output}
    http: { url: "${server.url}/empty/item/\${item}" }
  - id: after
    http: { url: "${server.url}/empty/after?n=\${steps.each.output}" }
`);
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.steps['each']!.output, []);
    assert.equal(server.byPath('/empty/after').length, 1);
  });

  for (const [label, body, code] of [
    ['an object', { items: [1] }, 'foreach_not_list'],
    ['a string (never split)', 'a,b,c', 'foreach_not_list'],
    ['null', null, 'foreach_not_list'],
  ] as const) {
    it(`fails the step with a hint when the list is ${label}`, async () => {
      const path = `/notlist/${label.split(' ')[0]}`;
      server.route(path, (_req, res) => reply(res, 200, body));
      const report = await runWorkflow(workflow(`
steps:
  - id: list
    http: { url: "${server.url}${path}" }
  - id: each
    foreach: \${steps.list.output}
    http: { url: "${server.url}/notlist/item/\${item}" }
`));
      assert.equal(report.status, 'failed');
      assert.equal(report.steps['each']!.errorCode, code);
      assert.ok(report.steps['each']!.hint);
      assert.equal(under('/notlist/item/').length, 0);
    });
  }

  it('fails a list longer than config.maxItems before any item runs', async () => {
    const report = await runWorkflow(workflow(`
config:
  maxItems: 3
steps:
  - id: each
    foreach: [a, b, c, d]
    http: { url: "${server.url}/max/\${item}" }
`));
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['each']!.errorCode, 'too_many_items');
    assert.match(report.steps['each']!.hint!, /config\.maxItems/);
    assert.equal(under('/max/').length, 0);
  });

  it('one failing item stops the run and aborts the items in flight', async () => {
    const never = new Gate();
    server.route('/stop/item/bad', async (_req, res) => {
      await server.until(() => under('/stop/item/slow').length === 3);
      reply(res, 400, { error: 'bad item' });
    });
    server.fallback(async () => never.wait());
    const events: RunEvent[] = [];
    const report = await runWorkflow(
      workflow(`
steps:
  - id: each
    foreach: [slow1, slow2, slow3, bad, later1, later2]
    maxConcurrency: 4
    http: { url: "${server.url}/stop/item/\${item}" }
  - id: after
    http: { url: "${server.url}/stop/after?x=\${steps.each.output}" }
`),
      { onEvent: (e) => events.push(e) },
    );
    never.open();
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['each']!.status, 'failed');
    assert.match(report.error!, /^each: item 3: /);
    assert.deepEqual(report.steps['each']!.items!.map((i) => i.status), ['cancelled', 'cancelled', 'cancelled', 'failed', 'not_run', 'not_run']);
    assert.deepEqual(report.steps['after']!, { status: 'skipped', output: null, skipReason: 'upstream_failed' });
    await server.until(() => under('/stop/item/slow').every((r) => r.endedAt !== undefined));
    assert.deepEqual(under('/stop/item/slow').map((r) => r.aborted), [true, true, true]);
    assert.equal(under('/stop/item/later').length + under('/stop/after').length, 0);
  });

  it('a foreach step the run stopped while its last items were in flight is cancelled, never succeeded', async () => {
    const never = new Gate();
    server.route('/inflight/boom', async (_req, res) => {
      await server.until(() => under('/inflight/item/').length === 2);
      reply(res, 400, { error: 'boom' });
    });
    server.fallback(async () => never.wait());
    const report = await runWorkflow(workflow(`
steps:
  - id: each
    foreach: [a, b]
    http: { url: "${server.url}/inflight/item/\${item}" }
  - id: boom
    http: { url: "${server.url}/inflight/boom" }
  - id: after
    http: { url: "${server.url}/inflight/after?x=\${steps.each.output}" }
`));
    never.open();
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['each']!.status, 'cancelled');
    assert.equal(report.steps['each']!.output, null);
    assert.deepEqual(report.steps['each']!.items!.map((i) => i.status), ['cancelled', 'cancelled']);
    assert.deepEqual([report.steps['after']!.status, report.steps['after']!.skipReason], ['skipped', 'upstream_cancelled']);
  });

  it('with continueOnError every item runs, failed ones hold null, and the run succeeds listing the step', async () => {
    server.fallback((req, res) => (req.path.endsWith('/b') || req.path.endsWith('/d') ? reply(res, 404, { error: 'gone' }) : reply(res, 200, req.path.split('/').pop())));
    const report = await runWorkflow(workflow(`
steps:
  - id: each
    foreach: [a, b, c, d, e]
    continueOnError: true
    retry: { attempts: 1 }
    http: { url: "${server.url}/cont/\${item}" }
  - id: combine
    http: { url: "${server.url}/cont/combine?x=\${steps.each.output}" }
  - id: anyway
    if: steps.each.status == "failed" && size(steps.each.output) == 5
    http: { url: "${server.url}/cont/anyway?x=\${steps.each.items}" }
`));
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.continued, ['each']);
    const each = report.steps['each']!;
    assert.equal(each.status, 'failed');
    assert.equal(each.continued, true);
    assert.deepEqual(each.output, ['a', null, 'c', null, 'e']);
    assert.deepEqual(each.items!.map((i) => i.status), ['succeeded', 'failed', 'succeeded', 'failed', 'succeeded']);
    assert.match(each.error!, /^2 of 5 items failed; item 1: /);
    assert.equal(under('/cont/').filter((r) => /\/cont\/[a-e]$/.test(r.path)).length, 5);
    assert.equal(report.steps['combine']!.skipReason, 'upstream_failed');
    assert.equal(report.steps['anyway']!.status, 'succeeded');
  });
});

describe('if', () => {
  it('runs a step whose condition is true and skips one whose condition is false, cascading the skip with its reason', async () => {
    server.route('/if/classify', (_req, res) => reply(res, 200, { urgency: 4.0, summary: 'fire' }));
    server.fallback((req, res) => reply(res, 200, req.path));
    const report = await runWorkflow(workflow(`
inputs:
  mode: { type: string, default: live }
steps:
  - id: classify
    http: { url: "${server.url}/if/classify" }
  - id: urgent
    if: steps.classify.output.urgency >= 4 && inputs.mode != "dry-run"
    http: { url: "${server.url}/if/urgent" }
  - id: calm
    if: \${ steps.classify.output.urgency < 2 }
    http: { url: "${server.url}/if/calm" }
  - id: after-calm
    http: { url: "${server.url}/if/after?x=\${steps.calm.output}" }
  - id: after-after
    http: { url: '${server.url}/if/after2?x=\${steps["after-calm"].output}' }
`));
    assert.equal(report.status, 'succeeded');
    assert.equal(report.steps['urgent']!.status, 'succeeded');
    assert.deepEqual(
      ['calm', 'after-calm', 'after-after'].map((id) => [report.steps[id]!.status, report.steps[id]!.skipReason]),
      [['skipped', 'condition'], ['skipped', 'upstream_skipped'], ['skipped', 'upstream_skipped']],
    );
    assert.equal(under('/if/').length, 2);
  });

  it('fails a step whose condition is not a boolean at run time, with its code', async () => {
    server.route('/nb/a', (_req, res) => reply(res, 200, { flag: 'yes' }));
    const report = await runWorkflow(workflow(`
steps:
  - id: a
    http: { url: "${server.url}/nb/a" }
  - id: b
    if: steps.a.output.flag
    http: { url: "${server.url}/nb/b" }
`));
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['b']!.errorCode, 'condition_not_boolean');
    assert.equal(server.byPath('/nb/b').length, 0);
  });

  it('writes a fallback: a step whose condition reads a failed step\'s status runs, and the failure is continued', async () => {
    server.route('/fb/primary', (_req, res) => reply(res, 503, { error: 'down' }));
    server.route('/fb/backup', (_req, res) => reply(res, 200, { from: 'backup' }));
    const report = await runWorkflow(workflow(`
steps:
  - id: primary
    continueOnError: true
    retry: { attempts: 1 }
    http: { url: "${server.url}/fb/primary" }
  - id: backup
    if: steps.primary.status == "failed"
    http: { url: "${server.url}/fb/backup" }
  - id: use
    if: steps.primary.status == "succeeded"
    http: { url: "${server.url}/fb/use" }
`));
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.continued, ['primary']);
    assert.deepEqual(report.steps['backup']!.output, { from: 'backup' });
    assert.equal(report.steps['use']!.skipReason, 'condition');
  });

  it('a step whose condition chose to run after a continued failure reads its output as null', async () => {
    server.route('/nullout/primary', (_req, res) => reply(res, 404, { error: 'gone' }));
    server.route('/nullout/explain', (req, res) => reply(res, 200, { got: req.url }));
    const report = await runWorkflow(workflow(`
steps:
  - id: primary
    continueOnError: true
    http: { url: "${server.url}/nullout/primary" }
  - id: explain
    if: steps.primary.status != "succeeded" && !has(steps.primary.output)
    http: { url: "${server.url}/nullout/explain?was=\${steps.primary.output}&s=\${steps.primary.status}" }
outputs:
  was: \${steps.primary.output}
`));
    assert.equal(report.status, 'succeeded', report.error);
    assert.deepEqual(report.steps['explain']!.output, { got: '/nullout/explain?was=null&s=failed' });
    assert.deepEqual(report.outputs, { was: null });
  });
});
