/**
 * The action contract, exercised by an action the engine has never heard of: everything the built-in actions
 * get (located checks, when a value is known, plan's call counts and token estimates, typed usage, a string's
 * parts, retrying only when asked) works for a plugin through the contract alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { RunEvent } from '../core/events.ts';
import { checkWorkflow, parseWorkflow } from '../definition/load.ts';
import { runWorkflow } from '../scheduler/run.ts';
import { describePlan, planText } from '../views/plan.ts';
import { builtinActions } from './builtin.ts';
import { ActionRegistry } from './registry.ts';
import { templated } from './templated.ts';
import type { ActionDefinition, Known, ResolvedParts, StaticContext, WrittenParts } from './types.ts';

interface SayInput {
  text: string;
  to?: string;
  fail?: boolean;
}

const seen: { known: Known[]; written: (WrittenParts | undefined)[]; parts: (ResolvedParts | undefined)[]; runs: number } = { known: [], written: [], parts: [], runs: 0 };

const say: ActionDefinition<SayInput> = {
  name: 'say',
  description: 'A test action.',
  schema: z.strictObject({ text: z.string(), to: z.string().optional(), fail: templated(z.boolean()).optional() }) as unknown as z.ZodType<SayInput>,
  calls: [
    { kind: 'shouts', noun: 'shout' },
    { kind: 'whispers', noun: 'whisper' },
  ],
  callOf: (block) => (block['to'] === 'quiet' ? 'whispers' : 'shouts'),
  usesTokens: true,
  keepsParts: ['text'],
  retriesWhenAsked: true,
  check(block, ctx: StaticContext) {
    seen.known.push(ctx.known(block['text']));
    seen.written.push(ctx.written(block['text']));
    return block['to'] === 'nobody' ? [{ path: ['to'], code: 'say_nobody', message: 'no one to say it to', hint: 'name someone' }] : [];
  },
  async run(input, ctx) {
    seen.runs++;
    seen.parts.push(ctx.parts?.('text'));
    if (input.fail) throw Object.assign(new (await import('../core/errors.ts')).StepFailedError(ctx.stepId, 'said_no', 'no'), { retryable: true });
    return { output: input.text, usage: { model: 'test:m', inputTokens: input.text.length, outputTokens: 1 } };
  },
};

const actions = () => new ActionRegistry([...builtinActions().all(), say]);

describe('the action contract, through a plugin', () => {
  it('locates the problems its check finds, and tells it when each value is known', () => {
    seen.known.length = 0;
    seen.written.length = 0;
    const text = [
      'inputs: { who: { type: string } }',
      'steps:',
      '  - id: a',
      '    say: { text: "hello" }',
      '  - id: b',
      '    say: { text: "hi ${inputs.who} and $${literal}" }',
      '  - id: c',
      '    say: { text: "${steps.a.output}!", to: nobody }',
      '  - id: d',
      '    foreach: ${steps.a.output}',
      '    say: { text: "${item}" }',
      '',
    ].join('\n');
    const result = checkWorkflow(text, 'wf.yaml', { actions: actions() });
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.diagnostics.map((d) => [d.code, d.line, d.column, d.message, d.hint]),
      [['say_nobody', 8, 44, 'no one to say it to', 'name someone']],
    );
    assert.deepEqual(seen.known, ['literal', 'start', 'run', 'run']);
    assert.deepEqual(seen.written[1], { strings: ['hi ', ' and ${literal}'], refs: [{ raw: '${inputs.who}', root: 'inputs', known: 'start', offset: 3 }] });
    assert.equal(seen.written[0], undefined);
  });

  it('has plan count its calls by the kinds it declares, and estimate its tokens', () => {
    const spec = parseWorkflow('steps:\n  - id: a\n    say: { text: x }\n  - id: b\n    say: { text: y, to: quiet }\n  - id: c\n    say: { text: z }\n', 'wf.yaml', { actions: actions() });
    const view = describePlan(spec, 10, { durations: {}, usage: { a: { inputTokens: 10, outputTokens: 2 } }, actions: actions() });
    assert.equal(view.calls['shouts'], 2);
    assert.equal(view.calls['whispers'], 1);
    assert.equal(view.calls['llm'], 0, 'every kind is present in --json, at 0');
    assert.deepEqual(view.expected?.tokens, { input: 30, output: 6, knownCalls: 1 });
    const text = planText(view, 'wf.yaml', actions());
    assert.match(text, /^Calls: 2 shouts, 1 whisper \(before retries\)$/m);
    assert.match(text, /\(1 of 3 model calls from earlier runs\)/);
  });

  it('totals its typed usage per model, and hands it the parts of a string it keeps', async () => {
    seen.parts.length = 0;
    const spec = parseWorkflow('inputs: { who: { type: string, default: "a b" } }\nsteps:\n  - id: a\n    say: { text: "to ${inputs.who}!" }\n  - id: b\n    say: { text: plain }\n', 'wf.yaml', { actions: actions() });
    const events: RunEvent[] = [];
    const report = await runWorkflow(spec, { actions: actions(), onEvent: (e) => events.push(e) });
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.usage, { 'test:m': { calls: 2, inputTokens: 'to a b!'.length + 'plain'.length, outputTokens: 2 } });
    assert.deepEqual(
      seen.parts.map((p) => p && { strings: [...p.strings], values: [...p.values], data: [...p.data] }),
      [{ strings: ['to ', '!'], values: ['a b'], data: [false] }, { strings: ['plain'], values: [], data: [] }],
    );
    const ends = events.filter((e) => e.type === 'step:end');
    assert.deepEqual(ends.map((e) => e.type === 'step:end' && e.usage), [
      { model: 'test:m', inputTokens: 7, outputTokens: 1 },
      { model: 'test:m', inputTokens: 5, outputTokens: 1 },
    ]);
  });

  it('retries its retryable failures only when the step asks', async () => {
    for (const [retry, runs] of [['', 1], ['    retry: { attempts: 3, backoff: 0.001 }\n', 3]] as const) {
      seen.runs = 0;
      const spec = parseWorkflow(`steps:\n  - id: a\n${retry}    say: { text: x, fail: true }\n`, 'wf.yaml', { actions: actions() });
      const report = await runWorkflow(spec, { actions: actions() });
      assert.equal(report.status, 'failed');
      assert.equal(seen.runs, runs, retry ? 'asked: tried again' : 'not asked: once');
    }
  });
});
