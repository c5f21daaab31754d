/**
 * Issue #14, the `shell` action, through the real CLI (run `npm run build` first): values arrive as one
 * argument each, a shell never reads a step's output as code, a stopped command's whole process group is gone
 * (checked by pid, never by time), a missing program stops the run before anything runs, and retries happen
 * only when the step asks.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';
import { PRINT_ARGV, gone } from './support/processes.ts';

/** A value that would do something if any shell read it, split it or expanded it. */
const NASTY = `a b; touch pwned "q" 'q' $(touch pwned) \`touch pwned\` $HOME * | > x`;

/** Prints its arguments as JSON: what a program really received. */

async function json(args: string[], cwd: string) {
  const result = await run([...args, '--json', '--no-store'], { cwd, env: { NODE_BIN: process.execPath } });
  return { ...result, report: JSON.parse(result.stdout || '{}') };
}

describe('a shell step', () => {
  it('passes each value as one argument, in a line split without a shell and in a list', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'print-argv.js'), PRINT_ARGV);
    const file = await writeWorkflow(
      dir,
      `inputs:
  node: { type: string }
  x: { type: string }
steps:
  - id: line
    shell:
      run: \${inputs.node} print-argv.js -n "quoted \${inputs.x}" \${inputs.x} pre\${inputs.x}post 'a b'
  - id: list
    shell:
      run: ["\${inputs.node}", print-argv.js, "\${inputs.x}", "\${steps.line.output}"]
`,
    );
    const { code, stderr, report } = await json(['run', file, '-i', `node=${process.execPath}`, '-i', `x=${NASTY}`], dir);
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(report.steps.line.output), ['-n', `quoted ${NASTY}`, NASTY, `pre${NASTY}post`, 'a b']);
    assert.deepEqual(JSON.parse(report.steps.list.output), [NASTY, report.steps.line.output]);
    assert.equal(existsSync(join(dir, 'pwned')), false, 'nothing in a value ran');
  });

  it('writes stdin from a step output, runs a bash pipe, and exposes exitCode and stderr to later steps', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `inputs:
  x: { type: string }
steps:
  - id: draft
    file: { action: write, path: draft.txt, content: "one two three" }
  - id: text
    file: { action: read, path: draft.txt }
    dependsOn: [draft]
  - id: count
    shell:
      run: [wc, -w]
      stdin: \${steps.text.output}
  - id: pipe
    shell:
      run: printf '%s\\n' "\${inputs.x}" '\${inputs.x}' \${inputs.x} | tr a-z A-Z
      shell: bash
  - id: warn
    shell:
      run: echo careful >&2; exit 1
      shell: sh
      allowExitCodes: [1]
  - id: after
    shell:
      run: printf '%s|%s' "$CODE" "$ERR"
      shell: sh
      env: { CODE: "\${steps.warn.exitCode}", ERR: "\${steps.warn.stderr}" }
`,
    );
    const { code, stderr, report } = await json(['run', file, '-i', `x=${NASTY}`], dir);
    assert.equal(code, 0, stderr);
    assert.equal(report.steps.count.output.trim(), '3');
    assert.equal(report.steps.pipe.output, Array(3).fill(NASTY.toUpperCase()).join('\n'), 'one trailing newline trimmed');
    assert.equal(report.steps.warn.status, 'succeeded', 'an allowed exit code');
    assert.equal(report.steps.after.output, '1|careful');
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });

  it('refuses a step output in a shell command line at `validate` and at `run`, located, nothing run', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: first
    shell: { run: touch ran }
  - id: ask
    llm: { prompt: "name a file" }
  - id: show
    shell:
      run: cat \${steps.ask.output} | wc -l
      shell: bash
`,
    );
    for (const command of ['validate', 'run']) {
      const result = await run([command, file, ...(command === 'run' ? ['--no-store'] : [])], { cwd: dir, env: { CONDUCTOR_MODEL: 'echo' } });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`workflow\\.yaml:8:16: error: a step's output \\(\`\\$\\{steps\\.ask\\.output\\}\`\\) may not be part of a command line a shell reads`));
      assert.match(result.stderr, /hint: pass it through `env` or `stdin`/);
    }
    assert.equal(existsSync(join(dir, 'ran')), false, 'no step ran');
  });

  it('fails on a non-zero exit with the code and the end of stderr, and runs it once unless the step asks for retries', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: once
    continueOnError: true
    shell:
      run: echo run >> once.txt; echo first >&2; echo "no such thing" >&2; exit 3
      shell: sh
  - id: twice
    continueOnError: true
    retry: { attempts: 2, backoff: 0.01 }
    shell:
      run: echo run >> twice.txt; exit 4
      shell: sh
`,
    );
    const { code, stderr, report } = await json(['run', file], dir);
    assert.equal(code, 0, stderr);
    const once = report.steps.once;
    assert.equal(once.status, 'failed');
    assert.equal(once.errorCode, 'command_failed');
    assert.match(once.error, /^shell: echo …: exited with code 3: first ⏎ no such thing$/);
    assert.equal(once.errorDetail, 'first\nno such thing\n');
    assert.equal(await readFile(join(dir, 'once.txt'), 'utf8'), 'run\n', 'not retried without `retry`');
    assert.equal(report.steps.twice.errorCode, 'command_failed');
    assert.match(report.steps.twice.error, /exited with code 4 \(after 2 attempts\)$/);
    assert.equal(await readFile(join(dir, 'twice.txt'), 'utf8'), 'run\nrun\n', 'retried as the step asked');
  });

  it('stops a command and its children at the step timeout', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: slow
    timeout: 4
    shell:
      run: sh -c 'sleep 600 & echo $! > pid; wait'
`,
    );
    const { code, report } = await json(['run', file], dir);
    assert.equal(code, 1);
    assert.equal(report.steps.slow.errorCode, 'timeout');
    // 2 s, not 1: the only clock here is the step's own, and sh must have started and written its child's pid
    // before it runs out, even on a busy machine.
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    assert.ok(pid > 0 && gone(pid), `sleep ${pid} is gone once the run has ended`);
  });

  it('stops a running command when another step fails (fail-fast), even one that ignores SIGTERM', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: slow
    shell:
      run: trap '' TERM; sleep 600 & echo $! > pid; wait
      shell: sh
  - id: fails
    shell:
      run: while [ ! -s pid ]; do sleep 0.05; done; exit 1
      shell: sh
  - id: never
    dependsOn: [fails]
    file: { action: write, path: never.txt, content: x }
`,
    );
    const { code, report } = await json(['run', file], dir);
    assert.equal(code, 1);
    assert.equal(report.steps.fails.status, 'failed');
    assert.equal(report.steps.slow.status, 'cancelled');
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    assert.ok(pid > 0 && gone(pid), `sleep ${pid} (SIGTERM ignored: SIGKILL) is gone once the run has ended`);
    assert.equal(existsSync(join(dir, 'never.txt')), false);
  });

  it('stops the run before anything runs when a program is missing', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: write
    file: { action: write, path: written.txt, content: x }
  - id: tool
    shell: { run: no-such-program-xyz --version }
  - id: script
    shell: { run: "echo hi", shell: bash }
`,
    );
    const result = await run(['run', file, '--no-store'], { cwd: dir });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /workflow\.yaml:4:5: error: step `tool`: program `no-such-program-xyz` not found on PATH/);
    assert.match(result.stderr, /hint: install it, or give its path/);
    assert.equal(existsSync(join(dir, 'written.txt')), false, 'the file step did not run');
  });

  it('is counted by `plan`', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: a
    shell: { run: "true" }
  - id: each
    foreach: [x, y]
    shell: { run: [echo, "\${item}"] }
`,
    );
    const text = await run(['plan', file, '--no-store'], { cwd: dir });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Calls: 3 commands \(before retries\)$/m);
    const plan = await run(['plan', file, '--format', 'json', '--no-store'], { cwd: dir });
    assert.equal(JSON.parse(plan.stdout).calls.commands, 3);
  });
});
