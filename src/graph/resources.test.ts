import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Resource } from '../actions/types.ts';
import { workflow } from '../../test/support/workflow.ts';
import type { Plan } from './plan.ts';
import { resourceEdges } from './resources.ts';

const deps = (plan: Plan, id: string) => plan.steps[plan.byId.get(id)!]!.dependsOn.map((d) => plan.steps[d]!.id);
const on = (edges: Map<number, unknown>[], step: number) => [...edges[step]!.keys()].sort((a, b) => a - b);

const read = (key: string): Resource => ({ key, mode: 'read', label: key });
const write = (key: string): Resource => ({ key, mode: 'write', label: key });
const set = (key: string, match: (rest: string) => boolean): Resource => ({ key, mode: 'read', label: `set ${key}`, match });

describe('a set of keys read by a rule', () => {
  it('waits for earlier writers of the keys it holds, and later writers wait for it', () => {
    const txt = (rest: string) => rest.endsWith('.txt');
    const edges = resourceEdges([
      [write('f:/d/a.txt')], // 0
      [write('f:/d/b.md')], // 1
      [write('f:/e/c.txt')], // 2: not below the prefix
      [set('f:/d/', txt)], // 3
      [write('f:/d/a.txt')], // 4
      [write('f:/d/new.txt')], // 5: first used after the set
      [write('f:/d/new.md')], // 6
      [read('f:/d/new.txt')], // 7
      [set('f:/d/', txt)], // 8
    ]);
    assert.deepEqual(on(edges, 3), [0]);
    assert.deepEqual(on(edges, 4), [0, 3]);
    assert.deepEqual(on(edges, 5), [3], 'a key first used after the set is held too');
    assert.deepEqual(on(edges, 6), []);
    assert.deepEqual(on(edges, 7), [5]);
    assert.deepEqual(on(edges, 8), [4, 5], 'reads commute: the second set waits for writers only');
  });

  it('holds keys deeper below its prefix when the rule says so, and keys of other kinds never', () => {
    const edges = resourceEdges([
      [set('f:/d/', () => true)], // 0
      [write('f:/d/x/y/z')], // 1
      [write('t:/d/x')], // 2: another kind of key
      [write('f:/dd/x')], // 3: shares text, not the folder
      [write('f:/d')], // 4: the folder itself
    ]);
    assert.deepEqual([1, 2, 3, 4].map((s) => on(edges, s)), [[0], [], [], []]);
  });

  it('tests a key against a rule only when the key changes: reads cost nothing', () => {
    let calls = 0;
    const counted = (rest: string) => (calls++, rest.endsWith('.txt'));
    const steps: Resource[][] = [];
    for (let i = 0; i < 2_000; i++) steps.push([write(`f:/d/${i % 100}.txt`)]);
    steps.push([set('f:/d/', counted)]);
    for (let i = 0; i < 2_000; i++) steps.push([write(`f:/d/${i}.txt`), read(`f:/d/${i % 100}.txt`), read('f:/d/never-written.txt')]);
    resourceEdges(steps);
    assert.equal(calls, 2_100, 'the 100 keys changed before it, once each; then once per change');
  });
});

describe('a glob in a workflow', () => {
  it('runs after earlier writers of files it matches, before later ones, and beside writers of other files', () => {
    const { plan } = workflow(`
steps:
  - id: before
    file: { action: write, path: notes/a.txt, content: x }
  - id: appended
    file: { action: append, path: notes/sub/deep.txt, content: x }
  - id: other
    file: { action: write, path: notes/a.md, content: x }
  - id: elsewhere
    file: { action: write, path: drafts/b.txt, content: x }
  - id: list
    file: { action: glob, pattern: "notes/**/*.txt" }
  - id: after
    file: { action: write, path: notes/c.txt, content: x }
  - id: reader
    file: { action: read, path: notes/a.txt }
  - id: other-after
    file: { action: write, path: notes/b.md, content: x }
`);
    assert.deepEqual(deps(plan, 'list'), ['before', 'appended']);
    assert.deepEqual(deps(plan, 'after'), ['list']);
    assert.deepEqual(deps(plan, 'reader'), ['before'], 'a read and a glob commute');
    assert.deepEqual(deps(plan, 'other-after'), []);
    const label = `glob ${join(process.cwd(), 'notes')}/**/*.txt`;
    assert.deepEqual(plan.steps[plan.byId.get('list')!]!.reasons.get(0), [{ kind: 'resource', label }]);
    assert.deepEqual(plan.steps[plan.byId.get('after')!]!.reasons.get(plan.byId.get('list')!), [{ kind: 'resource', label }], 'named by the glob, not the file');
  });

  it('is ordered against deletes that could take a match away: the match, a folder on the way, an ancestor', () => {
    const { plan } = workflow(`
steps:
  - id: list
    file: { action: glob, pattern: "data/*/in/*.csv" }
  - id: match
    file: { action: delete, path: data/x/in/a.csv }
  - id: on-the-way
    file: { action: delete, path: data/x }
  - id: ancestor
    file: { action: delete, path: data }
  - id: not-a-match
    file: { action: delete, path: data/x/out }
  - id: sibling
    file: { action: delete, path: other }
`);
    assert.deepEqual(deps(plan, 'match'), ['list']);
    assert.ok(deps(plan, 'on-the-way').includes('list'));
    assert.ok(deps(plan, 'ancestor').includes('list'));
    assert.deepEqual(deps(plan, 'not-a-match'), ['on-the-way', 'ancestor'], 'only through the folder deletes that hold it');
    assert.deepEqual(deps(plan, 'sibling'), []);
  });

  it('with a reference, is taken to match everything below its literal folder', () => {
    const { plan } = workflow(`
inputs:
  ext: { type: string, default: txt }
steps:
  - id: before
    file: { action: write, path: notes/a.md, content: x }
  - id: outside-its-folder
    file: { action: write, path: drafts/a.txt, content: x }
  - id: list
    file: { action: glob, pattern: "notes/*.\${inputs.ext}" }
  - id: after
    file: { action: write, path: notes/sub/b.md, content: x }
`);
    assert.deepEqual(deps(plan, 'list'), ['before']);
    assert.deepEqual(deps(plan, 'after'), ['list']);
  });

  it('stays near-linear for 5,000 steps: writers, readers and globs in one folder', () => {
    let text = 'steps:\n';
    for (let i = 0; i < 5_000; i++) {
      const op = i % 50 === 25 ? `{ action: glob, pattern: "out/*.txt" }` : i % 2 ? `{ action: read, path: out/${i - 1}.txt }` : `{ action: write, path: out/${i}.txt, content: x }`;
      text += `  - id: s${i}\n    file: ${op}\n`;
    }
    const { plan } = workflow(text);
    assert.equal(deps(plan, 's25').length, 13, 'the first glob waits for the 13 writers before it');
    assert.equal(deps(plan, 's75').length, 25, 'the next one for the 25 since');
    assert.deepEqual(deps(plan, 's76'), ['s75'], 'a writer of a new matching file waits for the last glob (and so for all before)');
    assert.deepEqual(deps(plan, 's73'), ['s72'], 'a reader never waits for a glob');
    const edges = plan.steps.reduce((sum, step) => sum + step.dependsOn.length, 0);
    assert.ok(edges < 2 * 5_000, `${edges} edges: each writer waits for one glob, each glob for the writers since the last`);
  });
});
