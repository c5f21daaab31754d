import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerCheck, schemaProblem } from './json-schema.ts';

const TICKET = {
  type: 'object',
  properties: { urgency: { type: 'integer', minimum: 1, maximum: 5 }, summary: { type: 'string' }, level: { enum: ['low', 'high'] } },
  required: ['urgency', 'summary'],
  additionalProperties: false,
};

describe('answerCheck', () => {
  it('names the first offending path and what it must be', () => {
    const check = answerCheck(TICKET, new Map());
    assert.equal(check({ urgency: 3, summary: 'ok' }), undefined);
    assert.equal(check({ urgency: 7, summary: 'ok' }), '/urgency: must be <= 5');
    assert.equal(check({ urgency: 'high', summary: 'ok' }), '/urgency: must be integer');
    assert.equal(check({ summary: 'ok' }), '/urgency: is required');
    assert.equal(check({ urgency: 1, summary: 'ok', extra: 1 }), '/extra: is not allowed (additionalProperties)');
    assert.equal(check({ urgency: 1, summary: 'ok', level: 'mid' }), '/level: must be one of "low", "high"');
    assert.equal(check('text'), '/: must be object');
  });

  it('is compiled once per schema per run, and again for the next run', () => {
    const runScope = new Map<string, unknown>();
    const first = answerCheck(TICKET, runScope);
    assert.equal(answerCheck(structuredClone(TICKET), runScope), first, 'the same schema text reuses the compiled check');
    assert.notEqual(answerCheck(TICKET, new Map()), first);
  });

  it('follows the schema’s own $schema', () => {
    const draft7 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'array', items: [{ type: 'string' }], additionalItems: false };
    assert.equal(schemaProblem(draft7), undefined);
    assert.equal(answerCheck(draft7, new Map())(['a', 'b']), '/: must NOT have more than 1 items');
    assert.equal(schemaProblem({ $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'string' }), undefined);
    assert.equal(schemaProblem({ $schema: 'http://json-schema.org/draft-06/schema#', type: 'string' }), undefined);
  });
});

describe('schemaProblem', () => {
  it('locates what is wrong inside the schema', () => {
    assert.deepEqual(schemaProblem({ type: 'object', properties: { urgency: { type: 'integer', maximum: 'five' } } }), { path: ['properties', 'urgency', 'maximum'], message: '`maximum` must be number' });
    assert.deepEqual(schemaProblem({ type: 'object', properties: { a: { type: 'string' } }, requried: ['a'] }), { path: ['requried'], message: 'unknown JSON Schema keyword `requried` (did you mean `required`?)' });
    assert.deepEqual(schemaProblem({ type: 'object', properties: { a: { type: 'strng' } } })?.path, ['properties', 'a', 'type']);
    assert.deepEqual(schemaProblem({ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } }), { path: [], message: "the schema cannot be used: can't resolve reference #/$defs/missing from id #" });
    assert.deepEqual(schemaProblem({ $schema: 'http://json-schema.org/draft-04/schema#' })?.path, ['$schema']);
  });

  it('accepts what providers accept: formats, descriptions, nullable unions, $defs', () => {
    assert.equal(schemaProblem({ type: 'object', description: 'x', properties: { at: { type: 'string', format: 'date-time' }, n: { type: ['integer', 'null'] } }, $defs: { x: { type: 'string' } } }), undefined);
  });

  it('a property named like a keyword is not mistaken for one', () => {
    assert.deepEqual(schemaProblem({ type: 'object', properties: { requried: { type: 'string' } }, items2: 1 })?.path, ['items2']);
  });
});
