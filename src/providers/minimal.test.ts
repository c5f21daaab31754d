import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerCheck } from './json-schema.ts';
import { minimalValue } from './minimal.ts';

/** Every value built here is checked by the same validator the run uses: it must match its schema. */
function assertMinimal(schema: Record<string, unknown>, expected: unknown) {
  const value = minimalValue(schema);
  assert.deepEqual(value, expected);
  assert.equal(answerCheck(schema, new Map())(value), undefined, `${JSON.stringify(value)} matches ${JSON.stringify(schema)}`);
}

describe('minimalValue', () => {
  it('an object with its required properties, each the simplest value of its type', () => {
    assertMinimal(
      {
        type: 'object',
        properties: { urgency: { type: 'integer', minimum: 1, maximum: 5 }, summary: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, ok: { type: 'boolean' }, note: { type: 'string' } },
        required: ['urgency', 'summary', 'tags', 'ok'],
        additionalProperties: false,
      },
      { urgency: 1, summary: '', tags: [], ok: false },
    );
  });

  it('enum and const win over the type', () => {
    assertMinimal({ type: 'object', properties: { level: { type: 'string', enum: ['low', 'high'] }, kind: { const: 'ticket' } }, required: ['level', 'kind'] }, { level: 'low', kind: 'ticket' });
  });

  it('bounds: minimum, exclusive bounds, negative ranges, multipleOf, minLength, minItems, minProperties', () => {
    assertMinimal({ type: 'integer', exclusiveMinimum: 3 }, 4);
    assertMinimal({ type: 'integer', maximum: -2 }, -2);
    assertMinimal({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, 0.5);
    assertMinimal({ type: 'number', exclusiveMinimum: 0 }, 1);
    assertMinimal({ type: 'integer', minimum: 7, multipleOf: 5 }, 10);
    assertMinimal({ type: 'number', minimum: -10, maximum: 10 }, 0);
    assertMinimal({ type: 'string', minLength: 3, maxLength: 5 }, 'xxx');
    assertMinimal({ type: 'array', items: { type: 'integer', minimum: 2 }, minItems: 2 }, [2, 2]);
    assertMinimal({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'boolean' }], minItems: 2 }, ['', false]);
    assertMinimal({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, minProperties: 1 }, { a: '' });
  });

  it('nullable and union types pick the real shape; local $refs and allOf/anyOf/oneOf are followed', () => {
    assertMinimal({ type: ['string', 'null'], minLength: 1 }, 'x');
    assertMinimal({ anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] }] }, { id: 0 });
    assertMinimal(
      { $defs: { person: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] } }, type: 'object', properties: { owner: { $ref: '#/$defs/person' } }, required: ['owner'] },
      { owner: { name: 'x' } },
    );
    assertMinimal({ allOf: [{ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }, { properties: { b: { type: 'boolean' } }, required: ['b'] }] }, { a: 0, b: false });
    assertMinimal({ oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }] }, 1);
  });

  it('a schema that allows anything gets null; a recursive one stops', () => {
    assertMinimal({}, null);
    const tree = { $defs: { node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } }, required: ['child'] } }, $ref: '#/$defs/node' };
    assert.doesNotThrow(() => minimalValue(tree));
  });
});
