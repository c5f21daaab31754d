/**
 * `validate` on the flow-control keys (foreach, as, maxConcurrency, if, continueOnError, dependsOn), through the
 * built binary: every mistake in one pass, each as file:line:col with a code frame and a hint, exit 2; a
 * valid file passes; `conductor schema` describes the keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

const VALID = `inputs:
  mode: { type: string, default: fast }
steps:
  - id: list
    file: { action: list, path: notes }
  - id: fetch-data
    http: { url: "http://127.0.0.1:1/x" }
    continueOnError: true
  - id: summarize
    foreach: \${steps.list.output}
    as: doc
    maxConcurrency: 4
    continueOnError: true
    llm: { prompt: "Summarise \${doc} (\${foreach.index} of \${foreach.count})" }
  - id: urgent
    if: steps.summarize.output.exists(s, s.contains("urgent")) && inputs.mode != "dry-run"
    llm: { prompt: "Escalate" }
  - id: fallback
    if: \${ steps["fetch-data"].status == "failed" }
    dependsOn: [urgent]
    llm: { prompt: "Fallback" }
  - id: combine
    llm: { prompt: "Combine: \${steps.summarize.output}" }
`;

// One mistake of each kind the issue lists, in one file.
const INVALID = `inputs:
  mode: { type: string, default: fast }
steps:
  - id: fetch-data
    http: { url: "http://127.0.0.1:1/x" }
  - id: notes
    foreach: notes/a.txt
    llm: { prompt: x }
  - id: each
    foreach: \${steps.fetch-dta.output}
    as: env
    llm: { prompt: x }
  - id: dashed
    if: steps.fetch-data.status == "failed"
    llm: { prompt: x }
  - id: unknown
    if: steps.fetchdata.output.ok && inputs.mdoe == "x"
    llm: { prompt: x }
  - id: syntax
    if: steps.each.output.ok = true
    llm: { prompt: x }
  - id: number
    if: size(steps.each.output) + 1
    llm: { prompt: "\${item}" }
  - id: around
    if: "go: \${steps.each.output}"
    continueOnErorr: true
    llm: { prompt: x }
`;

describe('conductor validate: loops, conditions and failures', { timeout: 180_000 }, () => {
  it('a valid workflow with every new key passes, exit 0', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, VALID);
    const result = await run(['validate', 'workflow.yaml'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^✓ workflow\.yaml is valid: 6 steps in 4 stages/);
  });

  it('every mistake, in one pass, as file:line:col with a code frame and a hint; exit 2', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, INVALID);
    const result = await run(['validate', 'workflow.yaml'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    const frame = (line: number, column: number, message: RegExp) =>
      new RegExp(`^workflow\\.yaml:${line}:${column}: error: ${message.source}\\n {2}${line} \\| .*\\n {${3 + String(line).length}}\\| {${column}}\\^\\n {2}hint: `, 'm');
    assert.match(result.stderr, frame(7, 14, /step `notes` → foreach: expected a list, got a string \(`"notes\/a\.txt"`\)/));
    assert.match(result.stderr, frame(10, 14, /unknown step `fetch-dta` in `\$\{steps\.fetch-dta\.output\}`/));
    assert.match(result.stderr, frame(24, 21, /`\$\{item\}` only exists inside a `foreach` step/));
    assert.match(result.stderr, frame(14, 9, /`steps\.fetch-data` reads as `steps\.fetch` minus `data`/));
    assert.match(result.stderr, /hint: write `steps\["fetch-data"\]`/);
    assert.match(result.stderr, frame(20, 30, /syntax error in the condition: unexpected character: =/));
    assert.match(result.stderr, /11 problems found; nothing was run\.\n$/);
  });

  it('--json lists the same problems with their codes', async (t) => {
    const dir = await tempDir(t);
    await writeWorkflow(dir, INVALID);
    const result = await run(['validate', 'workflow.yaml', '--json'], { cwd: dir });
    assert.equal(result.code, 2);
    const got = (JSON.parse(result.stdout) as { file: string; line: number; column: number; code: string; hint?: string; severity: string }[]).map((d) => {
      assert.equal(d.file, 'workflow.yaml');
      assert.equal(d.severity, 'error');
      return [d.line, d.column, d.code];
    });
    assert.deepEqual(got, [
      [7, 14, 'foreach_not_list'],
      [10, 14, 'unknown_step'],
      [11, 9, 'as_shadows_root'],
      [14, 9, 'condition_dashed_id'],
      [17, 9, 'unknown_step'],
      [17, 38, 'unknown_input'],
      [20, 30, 'condition_syntax'],
      [23, 9, 'condition_not_boolean'],
      [24, 21, 'bad_template'],
      [26, 14, 'condition_template'],
      [27, 5, 'unknown_key'],
    ]);
  });

  it('`conductor schema` describes the new keys', async () => {
    const result = await run(['schema']);
    assert.equal(result.code, 0);
    const schema = JSON.parse(result.stdout) as { properties: { config: { properties: Record<string, { description?: string }> }; steps: { items: { properties: Record<string, { description?: string }> } } } };
    const step = schema.properties.steps.items.properties;
    for (const key of ['foreach', 'as', 'maxConcurrency', 'continueOnError', 'if', 'dependsOn', 'depends_on']) assert.ok(step[key]?.description, key);
    assert.ok(schema.properties.config.properties['maxItems']?.description);
  });
});
