/**
 * The recorder's promises, seen from a second connection to the store (as another process, or the next
 * `resume`, would see it) right after an event is handled: no timers, no later commit.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { createRedactor } from '../core/redact.ts';
import { tempDir, workflow } from '../../test/support/workflow.ts';
import { recorder } from './recorder.ts';
import { SqliteRunStore } from './sqlite.ts';

const spec = workflow(`steps:
  - id: a
    llm: { model: echo, prompt: "a" }
  - id: b
    llm: { model: echo, prompt: "\${steps.a.output}" }
  - id: c
    llm: { model: echo, prompt: "c" }
`);
const SECRET = 'sk-live-recorder-0123456789';

async function open(t: { after(fn: () => unknown): void }) {
  const path = join(await tempDir(t), 'runs.db');
  const store = new SqliteRunStore(path);
  t.after(() => store.close());
  const other = new DatabaseSync(path, { readOnly: true });
  t.after(() => other.close());
  const rows = (runId: string) => other.prepare('SELECT step_id, output, properties, reused, redacted FROM step_runs WHERE run_id = ? ORDER BY step_id').all(runId).map((r) => ({ ...r }));
  return { store, rows };
}

const start = { type: 'run:start', runId: 'r', workflow: spec.file, stepIds: ['a', 'b', 'c'], maxConcurrency: 10, inputs: {}, at: 1 } as const;

describe('the recorder', () => {
  it('records a resumed run and the results it reused in one commit, before anything else happens', async (t) => {
    const { store, rows } = await open(t);
    const listener = recorder(store, spec, { redact: (s) => s, fingerprints: ['fa', 'fb', 'fc'], reuse: { a: { output: 'A' }, b: { output: 'B', properties: { model: 'echo' } } } });
    listener(start);
    // A kill -9 here leaves exactly this.
    assert.deepEqual(rows('r'), [
      { step_id: 'a', output: '"A"', properties: null, reused: 1, redacted: 0 },
      { step_id: 'b', output: '"B"', properties: '{"model":"echo"}', reused: 1, redacted: 0 },
    ]);
    // The run's own reused step:end events then change nothing.
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 1, output: 'A', reused: true });
    store.flush();
    assert.equal(rows('r').length, 2);
  });

  it('marks a result from which a secret was taken out, by it or by the run (a credential header)', async (t) => {
    const { store, rows } = await open(t);
    const listener = recorder(store, spec, { redact: createRedactor([SECRET]), fingerprints: ['fa', 'fb', 'fc'] });
    listener(start);
    const end = (stepId: string, output: unknown, properties?: Record<string, unknown>, redacted?: true) =>
      listener({ type: 'step:end', runId: 'r', stepId, status: 'succeeded', at: 2, output, ...(properties ? { properties } : {}), ...(redacted ? { redacted } : {}) });
    end('a', `key=${SECRET}`);
    // The run took the cookie's value out before the event (the http action's withoutCredentials) and says so.
    end('b', 'plain', { headers: { 'set-cookie': '***', 'content-type': 'text/plain' } }, true);
    end('c', 'plain', { model: 'echo' });
    store.flush();
    assert.deepEqual(
      rows('r').map((r) => [r['step_id'], r['output'], r['redacted']]),
      [['a', '"key=***"', 1], ['b', '"plain"', 1], ['c', '"plain"', 0]],
    );
  });
});
