import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTemplate } from './parse.ts';
import { compileValue, resolveEncoded, resolveValue, TemplateResolveError } from './value.ts';

const lookup = (values: Record<string, unknown>) => (ref: Parameters<Parameters<typeof resolveValue>[1]>[0]) =>
  values[ref.root === 'steps' ? `steps.${ref.step}.${ref.property}` : `${ref.root}.${ref.name}`];

describe('parseTemplate', () => {
  it('finds references with nested access', () => {
    const { segments, problems } = parseTemplate('A ${steps.fetch.output.items[0].name} B ${inputs.topic} ${env.HOME}');
    assert.deepEqual(problems, []);
    const refs = segments.filter((s) => s.kind === 'ref').map((s) => (s.kind === 'ref' ? s.ref : null));
    assert.deepEqual(refs, [
      { root: 'steps', step: 'fetch', property: 'output', path: ['items', 0, 'name'] },
      { root: 'inputs', name: 'topic', path: [] },
      { root: 'env', name: 'HOME' },
    ]);
  });

  it('accepts quoted keys and ids with dashes', () => {
    const { segments } = parseTemplate('${steps.my-step.output["a key"]}');
    assert.deepEqual(segments[0]?.kind === 'ref' && segments[0].ref, { root: 'steps', step: 'my-step', property: 'output', path: ['a key'] });
  });

  it('writes `$${` as a literal `${`', () => {
    const compiled = compileValue('cost: $${price} and ${inputs.x}');
    assert.equal(resolveValue(compiled.value, lookup({ 'inputs.x': 1 })), 'cost: ${price} and 1');
    assert.deepEqual(compileValue('only $${literal}').value, { kind: 'literal', value: 'only ${literal}' });
  });

  it('reports malformed templates with their offset', () => {
    const cases: [string, RegExp, number][] = [
      ['x ${steps.a.output', /unterminated/, 2],
      ['${}', /empty reference/, 0],
      ['${foo.bar}', /unknown reference root `foo`/, 0],
      ['${steps.a}', /needs a property/, 0],
      ['${inputs}', /needs a name/, 0],
      ['${steps.a.output[x]}', /not an index/, 0],
      ['${env.A.b}', /no fields/, 0],
    ];
    for (const [text, message, offset] of cases) {
      const { problems } = parseTemplate(text);
      assert.equal(problems.length, 1, text);
      assert.match(problems[0]!.message, message, text);
      assert.equal(problems[0]!.offset, offset, text);
    }
  });
});

describe('typing rules', () => {
  const values = lookup({ 'steps.a.output': { items: [{ name: 'x' }], n: 3 }, 'steps.b.output': [1, 2], 'inputs.n': 7, 'steps.c.output': 'text' });

  it('a field that is exactly one reference keeps the value’s type', () => {
    assert.deepEqual(resolveValue(compileValue('${steps.a.output}').value, values), { items: [{ name: 'x' }], n: 3 });
    assert.equal(resolveValue(compileValue('${inputs.n}').value, values), 7);
    assert.equal(resolveValue(compileValue('${steps.a.output.n}').value, values), 3);
  });

  it('a reference inside a longer string is stringified, objects as JSON', () => {
    assert.equal(resolveValue(compileValue('a=${steps.a.output} b=${steps.b.output} n=${inputs.n} c=${steps.c.output}').value, values), 'a={"items":[{"name":"x"}],"n":3} b=[1,2] n=7 c=text');
  });

  it('resolves templates inside maps and lists, keeping literals as they are', () => {
    const compiled = compileValue({ url: 'http://h/${inputs.n}', body: { list: ['${steps.b.output}', 5, true] } });
    assert.deepEqual(resolveValue(compiled.value, values), { url: 'http://h/7', body: { list: [[1, 2], 5, true] } });
    assert.equal(compiled.references.length, 2);
    assert.deepEqual(compiled.references[1]!.path, ['body', 'list', 0]);
  });

  it('an unresolved reference is an error, never left in place', () => {
    assert.throws(() => resolveValue(compileValue('${steps.a.output.items[3].name}').value, values), (e: unknown) => e instanceof TemplateResolveError && /`\[3\]` does not exist/.test((e as Error).message));
    assert.throws(() => resolveValue(compileValue('x ${inputs.missing}').value, values), /resolved to nothing/);
  });
});

describe('resolveEncoded', () => {
  const values = lookup({ 'steps.a.output': '../x?y#z', 'inputs.base': 'https://h', 'steps.o.output': { k: 'a b' } });
  const url = (text: string, ref: { root: string }) => (ref.root === 'steps' ? encodeURIComponent(text) : text);

  it('encodes each reference inside a longer string, leaving the literal text as written', () => {
    assert.equal(resolveEncoded(compileValue('${inputs.base}/items/${steps.a.output}?o=${steps.o.output}').value, values, url), 'https://h/items/..%2Fx%3Fy%23z?o=%7B%22k%22%3A%22a%20b%22%7D');
  });

  it('leaves a field that is exactly one reference whole, and walks maps and lists', () => {
    const compiled = compileValue({ whole: '${steps.a.output}', list: ['p/${steps.a.output}'] });
    assert.deepEqual(resolveEncoded(compiled.value, values, url), { whole: '../x?y#z', list: ['p/..%2Fx%3Fy%23z'] });
  });
});

describe('inside a foreach step', () => {
  const refs = (text: string, options = {}) => parseTemplate(text, options).segments.flatMap((s) => (s.kind === 'ref' ? [s.ref] : []));

  it('reads the item (by its `as` name, with a path into it) and `foreach.index` / `foreach.count`', () => {
    assert.deepEqual(refs('${item} ${item.title} ${item[0]["a b"]} ${foreach.index}/${foreach.count}', { item: 'item' }), [
      { root: 'item', name: 'item', path: [] },
      { root: 'item', name: 'item', path: ['title'] },
      { root: 'item', name: 'item', path: [0, 'a b'] },
      { root: 'foreach', name: 'index' },
      { root: 'foreach', name: 'count' },
    ]);
    assert.deepEqual(refs('${doc.path} ${steps.a.output}', { item: 'doc' }), [
      { root: 'item', name: 'doc', path: ['path'] },
      { root: 'steps', step: 'a', property: 'output', path: [] },
    ]);
  });

  it('keeps its type when it is the whole value, and is stringified inside text', () => {
    const values = (ref: Parameters<Parameters<typeof resolveValue>[1]>[0]) => (ref.root === 'item' ? { n: 2, tags: ['x'] } : ref.root === 'foreach' ? (ref.name === 'index' ? 0 : 3) : undefined);
    assert.deepEqual(resolveValue(compileValue('${doc}', { item: 'doc' }).value, values), { n: 2, tags: ['x'] });
    assert.equal(resolveValue(compileValue('${doc.n} (${foreach.index} of ${foreach.count}) ${doc.tags}', { item: 'doc' }).value, values), '2 (0 of 3) ["x"]');
  });

  it('says where the item exists when it is used outside a foreach step', () => {
    for (const text of ['${item}', '${item.title}', '${foreach.index}']) {
      const { problems } = parseTemplate(`x ${text}`);
      assert.equal(problems.length, 1, text);
      assert.equal(problems[0]!.message, `\`${text}\` only exists inside a \`foreach\` step`);
      assert.equal(problems[0]!.offset, 2);
      assert.match(problems[0]!.hint ?? '', /a step with `foreach:`/);
    }
    const other = parseTemplate('${doc}').problems[0]!;
    assert.match(other.message, /^unknown reference root `doc` in `\$\{doc\}`$/);
    assert.match(other.hint ?? '', /`\$\{item\}` and `\$\{foreach\.index\}` exist only inside a `foreach` step/);
  });

  it('points at the `as` name when `${item}` is written in a step that renamed it, and at index/count for other properties', () => {
    const renamed = parseTemplate('${item}', { item: 'doc' }).problems[0]!;
    assert.match(renamed.message, /unknown reference root `item`/);
    assert.match(renamed.hint ?? '', /`as: doc`\): write `\$\{doc\}`/);
    const cases: [string, RegExp][] = [
      ['${foreach.size}', /^`foreach\.size` does not exist in `\$\{foreach\.size\}`$/],
      ['${foreach}', /^`foreach` needs a name after it/],
      ['${foreach[0]}', /^`foreach` has no `\[0\]`/],
      ['${foreach.index.x}', /^`foreach\.index` is a number and has no fields/],
    ];
    for (const [text, message] of cases) {
      const { problems } = parseTemplate(text, { item: 'item' });
      assert.equal(problems.length, 1, text);
      assert.match(problems[0]!.message, message, text);
      assert.match(problems[0]!.hint ?? '', /`\$\{foreach\.index\}`.*`\$\{foreach\.count\}`/, text);
    }
  });

  it('never lets an item name shadow a root', () => {
    assert.deepEqual(refs('${steps.a.output}', { item: 'steps' }), [{ root: 'steps', step: 'a', property: 'output', path: [] }]);
  });
});
