import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkWorkflow, parseWorkflow } from './load.ts';
import { WorkflowInvalidError } from '../core/errors.ts';

const WORKFLOW = [
  'inputs:',
  '  topic: { type: string, default: whales }',
  'steps:',
  '  - id: fetch',
  '    http: { url: "https://example.com/{{ .inputs.topic }}" }',
  '  - id: a',
  '    llm:',
  '      prompt: |',
  '        Summarise {{.steps.fetch.response}} ({{ .steps.fetch.StatusCode }}, {{steps.fetch.output.items[0]}}).',
  '        Also {{ fetch }}, {{- .env.HOME -}} and {{ topic }}.',
  '        Leave {{ name }}, {{.Title}}, {{ range .Items }} and {{ "{{" }} alone.',
  'outputs:',
  '  summary: "{{ .steps.a.Output }}"',
  '',
].join('\n');

describe('templates from other tools', () => {
  it('are warnings at the `{{`, with the `${…}` spelling; the workflow stays valid', () => {
    const result = checkWorkflow(WORKFLOW, 'w.yaml');
    assert.equal(result.ok, true, JSON.stringify(result.diagnostics));
    const got = result.warnings.map((w) => [w.line, w.column, w.code, w.severity, w.hint]);
    assert.deepEqual(got, [
      [5, 39, 'foreign_template', 'warning', 'write `${inputs.topic}`'],
      [9, 19, 'foreign_template', 'warning', 'write `${steps.fetch.output}`'],
      [9, 46, 'foreign_template', 'warning', 'write `${steps.fetch.statusCode}`'],
      [9, 77, 'foreign_template', 'warning', 'write `${steps.fetch.output.items[0]}`'],
      [10, 14, 'foreign_template', 'warning', 'write `${steps.fetch.output}`'],
      [10, 27, 'foreign_template', 'warning', 'write `${env.HOME}`'],
      [10, 49, 'foreign_template', 'warning', 'write `${inputs.topic}`'],
      [13, 13, 'foreign_template', 'warning', 'write `${steps.a.output}`'],
    ]);
    assert.equal(result.warnings[1]!.message, '`{{.steps.fetch.response}}` is sent as written: Conductor\'s templates are `${…}`, so this step does not wait for `fetch`');
    assert.equal(result.warnings[7]!.message, '`{{ .steps.a.Output }}` is printed as written: Conductor\'s templates are `${…}`');
    assert.deepEqual(result.ok && result.spec.warnings, result.warnings);
    assert.deepEqual(result.ok && result.spec.plan.stages, [['fetch', 'a']], 'text is not a reference: no dependency');
  });

  it("GitHub Actions' `${{ … }}` is one error (it is not sent as written), with the one-brace spelling", () => {
    const result = checkWorkflow('steps:\n  - id: a\n    llm: { prompt: hi }\n  - id: b\n    llm: { prompt: "x ${{ steps.a.output }}" }\n', 'w.yaml');
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.diagnostics.map((d) => [d.line, d.column, d.code, d.hint]), [[5, 23, 'bad_template', 'a template takes one pair: write `${steps.a.output}`']]);
  });

  it('are listed among the problems of an invalid workflow, in file order', () => {
    const text = 'steps:\n  - id: a\n    llm: { prompt: "{{ .steps.b.output }}" }\n  - id: b\n    llm: { prompt: "${steps.nope.output}" }\n';
    assert.throws(
      () => parseWorkflow(text, 'w.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof WorkflowInvalidError);
        assert.deepEqual(e.diagnostics.map((d) => [d.line, d.code, d.severity ?? 'error']), [[3, 'foreign_template', 'warning'], [5, 'unknown_step', 'error']]);
        assert.match(e.message, /^w\.yaml:5:\d+: unknown step `nope`/, 'the summary names the problem, not the warning');
        return true;
      },
    );
  });

  it('are found when escapes spell the braces (the text itself has no `{{`)', () => {
    const text = 'steps:\n  - id: a\n    llm: { prompt: hi }\n  - id: b\n    llm: { prompt: "\\x7b\\x7b .steps.a.output }}", model: "{\\\n      { .steps.a.output }}" }\n';
    assert.ok(!text.includes('{{'));
    const result = checkWorkflow(text, 'w.yaml');
    assert.deepEqual(result.warnings.map((w) => [w.line, w.code, w.hint]), [
      [5, 'foreign_template', 'write `${steps.a.output}`'],
      [5, 'foreign_template', 'write `${steps.a.output}`'],
    ]);
  });
});
