import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowInvalidError } from '../../core/errors.ts';
import { checkWorkflow } from '../../definition/load.ts';
import { runWorkflow } from '../../scheduler/run.ts';
import { tempDir, workflow } from '../../../test/support/workflow.ts';
import { shellAction } from './index.ts';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/' };

/** The codes and messages `validate` reports for a workflow's steps. */
function problems(text: string): string[] {
  const result = checkWorkflow(text, '/tmp/wf.yaml');
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);
}

describe('the shell action', () => {
  it('is checked as written: a step output never runs, never becomes shell text, never picks the program', () => {
    const found = problems(`
inputs:
  n: { type: number, default: 1 }
steps:
  - id: a
    shell: { run: echo hi }
  - id: env-ok
    shell: { run: 'echo "$X" "\${inputs.n}"', shell: sh, env: { X: "\${steps.a.output}" }, stdin: "\${steps.a.output}" }
  - id: arg-ok
    shell: { run: 'echo "\${steps.a.output}" \${steps.a.output}', cwd: "\${steps.a.output}" }
  - id: in-script
    shell: { run: 'echo "\${steps.a.output}"', shell: sh }
  - id: program
    shell: { run: '\${steps.a.output}/bin/tool x' }
  - id: list-program
    shell: { run: ["\${steps.a.output}", x] }
  - id: each
    foreach: \${steps.a.output}
    shell: { run: 'echo \${item}', shell: bash }
  - id: each-literal
    foreach: [a, b]
    shell: { run: 'echo \${item}', shell: bash }
  - id: math
    shell: { run: 'echo $(( \${inputs.n} * 2 ))', shell: bash }
`);
    assert.deepEqual(
      found.map((p) => p.slice(0, p.indexOf(':', p.indexOf(' ')))),
      ['12:26 shell_step_output', '14:20 shell_program_from_output', '16:21 shell_program_from_output', '19:25 shell_step_output', '24:29 shell_reference_place'],
      found.join('\n'),
    );
    assert.match(found[3]!, /`\$\{item\}`/, 'an item of a list a step made is that step\'s output');
  });

  it('looks the program up before the run: on PATH, its path, or the shell', () => {
    const preflight = (block: Record<string, unknown>, written?: { strings: string[] }) =>
      shellAction.preflight!(block, { env, defaults: { maxConcurrency: 1, rateLimits: {} }, written: () => written && { strings: written.strings, refs: [] } })?.message;
    assert.equal(preflight({ run: 'sh -c true' }), undefined);
    assert.equal(preflight({ run: ['no-such-xyz', 'a'] }), 'program `no-such-xyz` not found on PATH');
    assert.equal(preflight({ run: undefined }, { strings: ['no-such-xyz --x ', ''] }), 'program `no-such-xyz` not found on PATH');
    assert.equal(preflight({ run: undefined }, { strings: ['no-such-', ' --x'] }), undefined, 'a value is part of the program: known at run time');
    assert.equal(preflight({ run: '/no/such/tool' }), 'program `/no/such/tool` not found or not executable (/no/such/tool)');
    assert.equal(preflight({ run: './tool' }), undefined, 'relative to the cwd, which is relative to the workflow: checked at run time');
    assert.equal(preflight({ run: 'no-such-xyz', shell: 'sh' }), undefined, 'a script\'s words are the shell\'s business');
    assert.equal(preflight({ run: 'x', env: { PATH: '/nowhere' } }), 'program `x` not found on PATH');
    assert.equal(preflight({ run: 'sh', env: { PATH: '/nowhere' } }), 'program `sh` not found on PATH', 'the step\'s own PATH');
    assert.equal(preflight({ run: 'no-such-xyz', env: undefined }), undefined, 'a templated env may set PATH');
  });

  it('runs in `cwd` relative to the workflow, with `env`, and says what went wrong', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub/tool.sh'), '#!/bin/sh\necho "tool in $(basename "$PWD") $GREETING $LIST"\n', { mode: 0o755 });
    await writeFile(join(dir, 'sub/plain.txt'), 'not a program');
    const report = await runWorkflow(
      workflow(
        `
steps:
  - id: tool
    shell: { run: ./tool.sh, cwd: sub, env: { GREETING: hello, LIST: [1, 2] } }
  - id: big
    continueOnError: true
    shell: { run: [sh, -c, "yes"], maxBytes: 1000 }
  - id: no-cwd
    continueOnError: true
    shell: { run: "true", cwd: missing }
  - id: not-exec
    continueOnError: true
    shell: { run: ./plain.txt, cwd: "\${inputs.sub}" }
  - id: missing
    continueOnError: true
    shell: { run: ["\${inputs.tool}"] }
inputs:
  tool: { type: string, default: no-such-program-xyz }
  sub: { type: string, default: sub }
`,
        dir,
      ),
      { env },
    );
    assert.equal(report.steps['tool']!.output, 'tool in sub hello [1,2]');
    assert.equal(report.steps['tool']!.properties?.['exitCode'], 0);
    const error = (id: string) => [report.steps[id]!.errorCode, report.steps[id]!.error];
    assert.deepEqual(error('big'), ['output_too_large', 'shell: sh …: wrote more than 1000 bytes to stdout; the command was stopped']);
    assert.deepEqual(error('no-cwd'), ['shell_bad_cwd', `shell: true: \`cwd\` ${join(dir, 'missing')} is not a folder`]);
    assert.deepEqual(error('not-exec'), ['command_not_executable', 'shell: ./plain.txt: `./plain.txt` is not executable']);
    assert.deepEqual(error('missing'), ['command_not_found', 'shell: no-such-program-xyz: program `no-such-program-xyz` not found on PATH']);
  });

  it('finds a program written in the workflow before anything runs: in a list with references, with a templated `env`; a relative one is left to the run', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub/plain.txt'), 'not a program');
    const marker = join(dir, 'ran.txt');
    const attempt = () =>
      runWorkflow(
        workflow(
          `
inputs:
  a: { type: string, default: x }
steps:
  - id: first
    file: { action: write, path: ran.txt, content: ran }
  - id: list
    shell: { run: [no-such-program-xyz, "\${inputs.a}"] }
  - id: env
    shell: { run: other-missing-program-xyz, env: { A: "\${inputs.a}" } }
  - id: beside
    shell: { run: ./plain.txt, cwd: sub }
  - id: own-path
    shell: { run: [ls, "\${inputs.a}"], env: { PATH: /nowhere, A: "\${inputs.a}" } }
  - id: unknown-path
    shell: { run: [missing-but-maybe-xyz], env: { PATH: "\${inputs.a}" } }
`,
          dir,
        ),
        { env },
      );
    const error = await attempt().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowInvalidError);
    assert.deepEqual(
      error.diagnostics.map((d) => d.message.replace(dir, '<dir>')),
      [
        'step `list`: program `no-such-program-xyz` not found on PATH',
        'step `env`: program `other-missing-program-xyz` not found on PATH',
        'step `own-path`: program `ls` not found on PATH',
      ],
    );
    await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(marker)), /ENOENT/, 'nothing ran');
  });

  it('confines a `cwd` a step output chose to the workflow folder', async (t) => {
    const dir = await tempDir(t);
    const report = await runWorkflow(
      workflow(
        `
steps:
  - id: pick
    shell: { run: [echo, ../..] }
  - id: go
    shell: { run: [pwd], cwd: "\${steps.pick.output}" }
`,
        dir,
      ),
      { env },
    );
    assert.equal(report.steps['go']!.errorCode, 'not_allowed');
  });

  it('is refused by the parser where its block is wrong', () => {
    assert.throws(() => workflow('steps:\n  - id: a\n    shell: { run: [a], shell: sh }\n'), (e: unknown) => e instanceof WorkflowInvalidError && /write `run` as one string/.test(e.message));
    assert.throws(() => workflow('steps:\n  - id: a\n    shell: { run: "a | b" }\n'), (e: unknown) => e instanceof WorkflowInvalidError && /`\|` would be passed to the program as text/.test(e.message));
  });

  it('describes itself by its program only, and counts a credential named in `env` as a secret', () => {
    assert.equal(shellAction.describe!({ run: 'git diff --stat main' }), 'shell: git …');
    assert.equal(shellAction.describe!({ run: ['wc'] }), 'shell: wc');
    assert.equal(shellAction.describe!({ run: 'TOKEN=abc curl -H x', shell: 'bash' }), 'shell: … curl …');
    assert.deepEqual([...shellAction.secrets!({ run: 'x', env: { API_TOKEN: 'tok-123456', MODE: 'fast' } })], ['tok-123456']);
  });
});
