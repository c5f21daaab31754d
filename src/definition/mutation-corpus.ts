/**
 * The fuzz corpus: the examples and fixtures (and a file using every flow-control key), and a deterministic
 * mutator for them. Used by mutations.test.ts (validation never throws) and fast-path.test.ts (the fast and the
 * located paths agree on every mutant).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
export const seeds: string[] = [
  ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'examples', f)),
  ...readdirSync(join(ROOT, 'test/fixtures/invalid')).map((f) => join(ROOT, 'test/fixtures/invalid', f)),
].map((f) => readFileSync(f, 'utf8'));
// The flow-control keys, so conditions and foreach lists are mutated too.
seeds.push(
  [
    'inputs:',
    '  mode: { type: string, default: fast }',
    'steps:',
    '  - id: list',
    '    file: { action: list, path: notes }',
    '  - id: fetch-data',
    '    http: { url: "http://127.0.0.1:1/x" }',
    '    continueOnError: true',
    '  - id: each',
    '    foreach: ${steps.list.output}',
    '    as: doc',
    '    maxConcurrency: 2',
    '    llm: { prompt: "Summarise ${doc} (${foreach.index} of ${foreach.count})" }',
    '  - id: when',
    '    if: steps.each.output.exists(s, s.contains("x")) && inputs.mode != "dry-run" || steps["fetch-data"].status == "failed"',
    '    dependsOn: [list]',
    '    llm: { prompt: "${steps.each.items}" }',
    '  - id: wrapped',
    "    if: '${ has(steps.when.output.ok) && size(steps.list.output) > 1 }'",
    '    foreach: [a, "${inputs.mode}"]',
    '    file: { action: read, path: "${item}" }',
    '',
  ].join('\n'),
);
const TOKENS = ['${', '}', '${steps.', '.output', ':', '- ', '  ', '\n', '"', "'", '[', ']', '{', '#', '&a ', '*a', '!!str ', '!tag ', '|', '>', '~', 'null', '0', '-1', '1e9', 'llm:', 'http:', 'file:', 'depends_on: [', 'id: ', '$${', '\t', '? ', '<<: ', '%YAML 1.2\n---\n', '...\n', '${inputs.', '${env.', '[0]', '["a"]', 'prompt: ', 'steps:', 'inputs:', 'outputs:', 'config:', '{{ .steps.a.response }}', '{{', '['.repeat(120), '{a: '.repeat(120), '&a [*a]\n', ' &a [*a, *a]', 'foreach: ', 'if: ', 'as: ', '${item}', '${foreach.index}', 'steps["a"]', ' && ', ' == ', '(', ')', '.exists(x, ', 'continueOnError: ', 'dependsOn: ['];

/** A small deterministic generator (the same cases on every machine). */
export function generator(seed: number) {
  let state = seed;
  return (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
}

export function mutate(text: string, rand: (n: number) => number): string {
  for (let m = 0, count = 1 + rand(4); m < count; m++) {
    const at = rand(text.length + 1);
    const op = rand(3);
    if (op === 0) text = text.slice(0, at) + TOKENS[rand(TOKENS.length)] + text.slice(at);
    else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rand(8));
    else {
      const lines = text.split('\n');
      const [i, j] = [rand(lines.length), rand(lines.length)];
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      text = lines.join('\n');
    }
  }
  return text;
}
