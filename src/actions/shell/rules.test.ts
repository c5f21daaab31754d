/**
 * Where a step's output may go in a command (data.ts), and the checks that came from trying the action as a new
 * user: an interpreter's code, a wrapper's program, a variable that chooses what runs, a value read as an
 * option; YAML's retyping of list words; what a failed command said on stdout.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkWorkflow } from '../../definition/load.ts';
import { runWorkflow } from '../../scheduler/run.ts';
import { tempDir, workflow } from '../../../test/support/workflow.ts';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/' };

/** `code line:col` of each problem `validate` finds. */
function problems(steps: string): string[] {
  const result = checkWorkflow(`inputs:\n  f: { type: string, default: x }\nsteps:\n  - id: a\n    llm: { prompt: x, model: echo }\n${steps}`, '/tmp/wf.yaml');
  return result.ok ? [] : result.diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`);
}

describe('a step output in a command', () => {
  it('may not be the code an interpreter runs, the script it runs, or the program a wrapper starts', () => {
    const out = '"${steps.a.output}"';
    const refused = [
      `[bash, -c, ${out}]`,
      `[sh, -ec, ${out}]`,
      `[python3, -c, ${out}]`,
      `[node, --eval, ${out}]`,
      `[perl, -e, ${out}]`,
      `[python3, ${out}]`,
      `[awk, ${out}, file.txt]`,
      `[sed, -e, ${out}]`,
      `[env, A=1, ${out}]`,
      `[sudo, -n, ${out}]`,
      `[xargs, ${out}]`,
      `[find, ., -name, x, -exec, ${out}, ";"]`,
      `[timeout, "5", bash, -c, ${out}]`,
    ];
    for (const run of refused) assert.deepEqual(problems(`  - id: b\n    shell: { run: ${run} }\n`).map((p) => p.split(' ')[0]), ['shell_output_as_code'], run);
    assert.deepEqual(problems('  - id: b\n    shell: { run: \'bash -c "${steps.a.output}"\' }\n'), ['shell_output_as_code 7:29']);
  });

  it('may be an argument a program reads as data', () => {
    const out = '"${steps.a.output}"';
    for (const run of [`[python3, script.py, ${out}]`, `[bash, -c, 'printf "%s" "$1"', _, ${out}]`, `[grep, -n, ${out}, notes.txt]`, `[env, A=1, wc, -c, ${out}]`, `[awk, '{ print }', ${out}]`, `[git, diff, --, ${out}]`]) {
      assert.deepEqual(problems(`  - id: b\n    shell: { run: ${run} }\n`), [], run);
    }
  });

  it('may not set a variable that chooses what runs or loads', () => {
    assert.deepEqual(problems('  - id: b\n    shell: { run: [make], env: { BASH_ENV: "${steps.a.output}", LD_PRELOAD: "${steps.a.output}", GIT_SSH_COMMAND: "${steps.a.output}", NOTE: "${steps.a.output}", PATH: "${inputs.f}" } }\n').map((p) => p.split(' ')[0]), [
      'shell_output_as_code',
      'shell_output_as_code',
      'shell_output_as_code',
    ]);
  });

  it('is refused when it would start an argument with `-` (an option), unless a literal `--` came first', async (t) => {
    const dir = await tempDir(t);
    const escape = join(dir, '..', `escaped-${process.pid}.txt`);
    const report = await runWorkflow(
      workflow(
        `
steps:
  - id: ask
    llm: { prompt: "--output=${escape}", model: echo }
  - id: list
    continueOnError: true
    shell: { run: ["git", "diff", "--no-index", "\${steps.ask.output}", "b"] }
  - id: line
    continueOnError: true
    shell: { run: "printf '%s|' \${steps.ask.output}" }
  - id: after-dashes
    shell: { run: [printf, "%s|", --, "\${steps.ask.output}"] }
  - id: prefixed
    shell: { run: "printf '%s|' ./\${steps.ask.output}" }
`,
        dir,
      ),
      { env },
    );
    for (const id of ['list', 'line']) {
      assert.equal(report.steps[id]!.errorCode, 'not_allowed', id);
      assert.match(report.steps[id]!.error!, /a step's output starts argument \d with `-` .* would read it as an option/);
    }
    await assert.rejects(stat(escape), /ENOENT/, 'nothing was written where the value pointed');
    assert.equal(report.steps['after-dashes']!.output, `--|--output=${escape}|`);
    assert.equal(report.steps['prefixed']!.output, `./--output=${escape}|`);
  });
});

describe('a step output choosing where a relative program is', () => {
  it('is refused: `./tool.sh` in a folder a model chose is a program the model chose', () => {
    assert.deepEqual(problems('  - id: b\n    shell: { run: ./tool.sh, cwd: "${steps.a.output}" }\n').map((p) => p.split(' ')[0]), ['shell_output_as_code']);
    assert.deepEqual(problems('  - id: b\n    shell: { run: [cat, notes.txt], cwd: "${steps.a.output}" }\n'), [], 'a program on PATH reads data there');
    assert.deepEqual(problems('  - id: b\n    shell: { run: [""] }\n').map((p) => p.split(' ')[0]), ['shell_empty']);
  });
});

describe('the list form', () => {
  it('refuses a word YAML retyped, and passes each item of a list a reference gives as one argument', async (t) => {
    assert.deepEqual(problems('  - id: b\n    shell: { run: [nvm, use, 18.10, true] }\n').map((p) => p.split(' ')[0]), ['shell_word_not_text', 'shell_word_not_text']);
    const dir = await tempDir(t);
    const report = await runWorkflow(
      workflow(
        `
inputs:
  files: { type: array, default: ["a b.txt", "-n", 3] }
  n: { type: number, default: 18.5 }
steps:
  - id: each
    shell: { run: [printf, "%s|", --, "\${inputs.files}", "\${inputs.n}"] }
`,
        dir,
      ),
      { env },
    );
    assert.equal(report.steps['each']!.output, '--|a b.txt|-n|3|18.5|', 'an input is the author’s: it may start with `-`');
  });
});

describe('the command line', () => {
  it('refuses blanks, a variable assignment as the program, and `$` inside double quotes', () => {
    assert.deepEqual(problems('  - id: b\n    shell: { run: "   " }\n'), ['shell_empty 7:19']);
    assert.deepEqual(problems('  - id: b\n    shell: { run: "FOO=1 env" }\n').map((p) => p.split(' ')[0]), ['shell_assignment']);
    assert.deepEqual(problems('  - id: b\n    shell: { run: \'grep "$PATTERN" notes.txt\' }\n').map((p) => p.split(' ')[0]), ['shell_syntax']);
    assert.deepEqual(problems('  - id: b\n    shell: { run: "grep \'$PATTERN\' notes.txt" }\n'), [], 'single quotes mean the text');
  });
});

describe('a command that fails', () => {
  it('shows what it said on stdout when stderr is empty, and keeps both in the detail', async (t) => {
    const dir = await tempDir(t);
    const report = await runWorkflow(workflow('steps:\n  - id: test\n    shell: { run: [sh, -c, "echo FAILED test_x expected 2 got 3; exit 1"] }\n', dir), { env });
    assert.match(report.steps['test']!.error!, /exited with code 1: FAILED test_x expected 2 got 3$/);
    assert.equal(report.steps['test']!.errorDetail, 'stdout:\nFAILED test_x expected 2 got 3\n');
  });

  it('runs a program an earlier step made (a relative path is not looked for before the run)', async (t) => {
    const dir = await tempDir(t);
    const report = await runWorkflow(
      workflow(
        `
steps:
  - id: build
    shell: { run: [sh, -c, "printf '#!/bin/sh\\\\necho hi\\\\n' > hello.sh && chmod +x hello.sh"] }
  - id: use
    dependsOn: [build]
    shell: { run: ./hello.sh }
`,
        dir,
      ),
      { env },
    );
    assert.equal(report.status, 'succeeded', report.error);
    assert.equal(report.steps['use']!.output, 'hi');
    assert.equal((await readFile(join(dir, 'hello.sh'), 'utf8')).split('\n')[0], '#!/bin/sh');
  });
});
