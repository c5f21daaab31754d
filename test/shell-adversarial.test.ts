/**
 * Adversarial review of the `shell` action (#14) through the real CLI (run `npm run build` first). The attacker
 * controls a step's output — a model's answer (the `echo` model answers with its prompt), an HTTP answer from a
 * stand-in, a file — or is a careless author. A test marked `todo` is a limitation docs/shell.md states (the
 * reason names it); the others are attacks that hold and that src/actions/shell/*.test.ts and test/shell.test.ts
 * do not cover. Everything is judged by what happened — files a command would have written, the argv a program
 * received, pids alive or gone once the CLI has exited — never by how long it took.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { conductor, ROOT, run, type CliResult } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';
import { PRINT_ARGV, gone } from './support/processes.ts';

/** Prints its arguments as JSON: what a program really received. */

/**
 * A fresh folder whose commands write the pids they start to `pid` or `pids/*`. When the test ends, any of them a
 * defect left running is ended (its process group, by id) before the folder is removed.
 */
async function workDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-shell-adv-'));
  t.after(async () => {
    const files = [join(dir, 'pid'), ...(existsSync(join(dir, 'pids')) ? readdirSync(join(dir, 'pids')).map((f) => join(dir, 'pids', f)) : [])];
    for (const path of files) {
      const pid = existsSync(path) ? Number(readFileSync(path, 'utf8')) : 0;
      // Only a process still working in this folder is ours: by now its pid may be another test's process.
      if (pid > 0 && !gone(pid) && workingIn(pid, dir)) kill(pid);
    }
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The process group of `pid` (`self`: this process), from /proc; undefined without it. */
function groupOf(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** Whether process `pid` works in `dir` (its current folder is there), from /proc. */
function workingIn(pid: number, dir: string): boolean {
  try {
    return realpathSync(`/proc/${pid}/cwd`).startsWith(realpathSync(dir));
  } catch {
    return false;
  }
}

/** SIGKILL to the process group `pid` is in (a command's own), or to `pid` alone when it is ours. */
function kill(pid: number): void {
  const group = groupOf(pid);
  try {
    if (group !== undefined && group > 0 && group !== groupOf('self')) process.kill(-group, 'SIGKILL');
    else process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Waits until a command has written `path` (an event, not a time); its number. */
async function written(path: string): Promise<number> {
  while (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') await delay(20);
  return Number(readFileSync(path, 'utf8').trim());
}

async function json(args: string[], cwd: string) {
  const result = await run([...args, '--json', '--no-store'], { cwd });
  return { ...result, report: JSON.parse(result.stdout || '{}') };
}

/** `validate --json`: every problem and warning, as {line, code, message, severity}. */
async function diagnostics(file: string, cwd: string): Promise<{ code: number | null; list: { line: number; code: string; message: string; severity: string }[] }> {
  const result = await run(['validate', file, '--json'], { cwd });
  return { code: result.code, list: JSON.parse(result.stdout || '[]') };
}

describe('shell, attacked: a step output never becomes code or the program', { timeout: 300_000 }, () => {
  it(
    'refuses a step output inside the script of `sh -c` / `bash -c` written without `shell:`',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: ask
    llm: { model: "echo:x", prompt: "hi; touch pwned-line" }
  - id: ask2
    llm: { model: "echo:x", prompt: "hi; touch pwned-list" }
  - id: line
    continueOnError: true
    shell: { run: 'sh -c "echo \${steps.ask.output}"' }
  - id: list
    continueOnError: true
    shell: { run: [bash, -c, "echo \${steps.ask2.output}"] }
`,
      );
      const result = await run(['run', file, '--no-store'], { cwd: dir });
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('pwned')), [], 'no part of a model\'s answer ran');
      assert.equal(result.code, 2, 'refused before the run, as `shell: sh` with the same line is (shell_step_output)');
    },
  );

  it(
    'refuses a step output as the program a launcher runs (`env …`, `timeout 30 …`)',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: ask
    llm: { model: "echo:x", prompt: "touch" }
  - id: env
    continueOnError: true
    shell: { run: [env, "\${steps.ask.output}", pwned-env] }
  - id: timeout
    continueOnError: true
    shell: { run: 'timeout 30 \${steps.ask.output} pwned-timeout' }
`,
      );
      const result = await run(['run', file, '--no-store'], { cwd: dir });
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('pwned')), [], 'the model did not choose the program');
      assert.equal(result.code, 2, 'refused before the run (shell_program_from_output)');
    },
  );

  it(
    'refuses a step output in `env.PATH`: it chooses the program',
    async (t) => {
      const dir = await tempDir(t);
      await mkdir(join(dir, 'vendor/bin'), { recursive: true });
      // Any executable in the workflow's tree will do: a cloned repository's scripts, node_modules/.bin.
      await writeFile(join(dir, 'vendor/bin/ls'), '#!/bin/sh\n: > pwned\n', { mode: 0o755 });
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: pick
    llm: { model: "echo:x", prompt: "vendor/bin" }
  - id: list
    continueOnError: true
    shell: { run: ls, env: { PATH: "\${steps.pick.output}" } }
`,
      );
      const result = await run(['run', file, '--no-store'], { cwd: dir });
      assert.equal(existsSync(join(dir, 'pwned')), false, 'the program the workflow names ran, not the model\'s');
      assert.equal(result.code, 2, 'refused before the run, like a step output as the program');
    },
  );

  it(
    'refuses a step output in `env.BASH_ENV` under `shell: bash`: bash expands it, command substitutions included',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: ask
    llm: { model: "echo:x", prompt: "$(touch pwned)" }
  - id: script
    continueOnError: true
    shell: { run: "true", shell: bash, env: { BASH_ENV: "\${steps.ask.output}" } }
`,
      );
      const result = await run(['run', file, '--no-store'], { cwd: dir });
      assert.equal(existsSync(join(dir, 'pwned')), false, 'nothing in the answer ran');
      assert.equal(result.code, 2);
    },
  );

  it(
    'refuses a relative program in a folder a step output chose: the model would pick which file runs',
    async (t) => {
      const dir = await tempDir(t);
      await mkdir(join(dir, 'safe'));
      await mkdir(join(dir, 'other'));
      await writeFile(join(dir, 'safe/tool.sh'), '#!/bin/sh\necho safe\n', { mode: 0o755 });
      await writeFile(join(dir, 'other/tool.sh'), '#!/bin/sh\n: > ../pwned\n', { mode: 0o755 });
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: pick
    llm: { model: "echo:x", prompt: "other" }
  - id: tool
    continueOnError: true
    shell: { run: ./tool.sh, cwd: "\${steps.pick.output}" }
`,
      );
      const { code, report } = await json(['run', file], dir);
      assert.equal(existsSync(join(dir, 'pwned')), false, 'the model did not choose the program');
      assert.ok(code === 2 || report.steps.tool.errorCode === 'not_allowed', 'refused, before the run or before the step runs');
    },
  );

  it('refuses an item of a list a step made as the program, in a list and in a line', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: first
    file: { action: write, path: ran.txt, content: x }
  - id: list
    llm: { model: "echo:x", prompt: '["touch", "sh"]', schema: { type: array, items: { type: string } } }
  - id: as-list
    foreach: \${steps.list.output}
    shell: { run: ["\${item}", pwned] }
  - id: as-line
    foreach: \${steps.list.output}
    shell: { run: '\${item} pwned' }
  - id: whole
    foreach: \${steps.list.output}
    shell: { run: '\${item}' }
`,
    );
    const result = await run(['run', file, '--no-store'], { cwd: dir });
    assert.equal(result.code, 2, result.stderr);
    assert.equal((result.stderr.match(/the program to run may not come from a step's output/g) ?? []).length, 3, result.stderr);
    assert.deepEqual(readdirSync(dir), ['workflow.yaml'], 'nothing ran');
  });

  it('confines a data-chosen `cwd` through a symlink, and refuses the workflow\'s folder however it is spelled', async (t) => {
    const dir = await tempDir(t);
    const outside = await mkdtemp(join(tmpdir(), 'conductor-outside-'));
    t.after(() => rm(outside, { recursive: true, force: true }));
    await mkdir(join(dir, 'sub'));
    await mkdir(join(dir, '.git/hooks'), { recursive: true });
    await symlink(outside, join(dir, 'link'));
    const file = await writeWorkflow(
      dir,
      `inputs:
  picks: { type: array }
steps:
  - id: pick
    foreach: \${inputs.picks}
    llm: { model: "echo:x", prompt: "\${item}" }
  - id: go
    foreach: \${steps.pick.output}
    continueOnError: true
    shell: { run: [touch, pwned], cwd: "\${item}" }
`,
    );
    const picks = ['link', 'link/.', 'sub/..', '.', './', `${dir}/sub/../`, 'sub/../link', '.git/hooks', '/tmp'];
    const { code, stderr, report } = await json(['run', file, '-i', `picks=${JSON.stringify(picks)}`], dir);
    assert.equal(code, 0, stderr);
    const items = report.steps.go.items as { status: string; errorCode?: string }[];
    assert.deepEqual(
      items.map((i) => i.errorCode),
      picks.map(() => 'not_allowed'),
      JSON.stringify(items),
    );
    assert.deepEqual(readdirSync(outside), [], 'nothing ran outside the workflow\'s folder');
    assert.equal(existsSync(join(dir, 'pwned')), false, 'nor in the workflow\'s folder itself');
    assert.equal(existsSync(join(dir, '.git/hooks/pwned')), false, 'nor in `.git`');
  });
});

describe('shell, attacked: values from an HTTP answer', { timeout: 300_000 }, () => {
  let server: StandIn;
  const nasty = {
    lines: 'one\ntwo; touch pwned\n',
    quotes: '“smart” ‘quotes’ "plain" \'single\'',
    option: '--output=pwned',
    escape: '$${HOME} ${HOME} $(touch pwned) `touch pwned`',
    nul: 'a\u0000b',
  };
  before(async () => {
    server = await StandIn.start();
    server.route('/values', (_req, res) => reply(res, 200, nasty));
  });
  after(() => server.close());

  it('puts each value of a line into one argument, newlines and unicode quotes included', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'print-argv.js'), PRINT_ARGV);
    const file = await writeWorkflow(
      dir,
      `inputs:
  node: { type: string }
steps:
  - id: get
    http: { url: "${server.url}/values" }
  - id: line
    shell:
      run: \${inputs.node} print-argv.js \${steps.get.output.lines} "\${steps.get.output.quotes}" x\${steps.get.output.escape}y -- \${steps.get.output.option}
`,
    );
    const { code, stderr, report } = await json(['run', file, '-i', `node=${process.execPath}`], dir);
    assert.equal(code, 0, stderr);
    // A value that starts with `-` is an argument only after a literal `--` (else it is refused: see the option test).
    assert.deepEqual(JSON.parse(report.steps.line.output), [nasty.lines, nasty.quotes, `x${nasty.escape}y`, '--', nasty.option]);
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });

  it('fails a step whose value holds a NUL byte, as an argument, a variable or stdin text, without running it', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: get
    http: { url: "${server.url}/values" }
  - id: arg
    continueOnError: true
    shell: { run: ["touch", "pwned-arg", "\${steps.get.output.nul}"] }
  - id: var
    continueOnError: true
    shell: { run: "touch pwned-var", shell: sh, env: { X: "\${steps.get.output.nul}" } }
  - id: stdin
    shell: { run: ["wc", "-c"], stdin: "\${steps.get.output.nul}" }
`,
    );
    const { code, stderr, report } = await json(['run', file], dir);
    assert.equal(code, 0, stderr);
    assert.equal(report.steps.arg.errorCode, 'invalid_input');
    assert.equal(report.steps.var.errorCode, 'invalid_input');
    assert.match(report.steps.arg.error, /NUL/);
    assert.equal(report.steps.stdin.output.trim(), '3', 'stdin is bytes: a NUL is one of them');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('pwned')), [], 'neither command ran');
  });

  it(
    'warns that a step output at the start of a word is read as an option (`-o…`), or docs/shell.md says so',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `steps:
  - id: ask
    llm: { model: "echo:x", prompt: "-opwned" }
  - id: sorted
    shell: { run: 'sort \${steps.ask.output}' }
  - id: safe
    shell: { run: 'sort -- \${steps.ask.output}' }
`,
      );
      // Today `run` writes ./pwned: sort took the answer for its `-o FILE` option.
      const { list } = await diagnostics(file, dir);
      const about = (line: number) => list.filter((d) => d.line === line && /option|`--`/.test(d.message));
      const section = readFileSync(join(ROOT, 'docs/shell.md'), 'utf8');
      assert.ok(about(5).length === 1 || /\boption/i.test(section), `validate says the value may be read as an option, or docs/shell.md does: ${JSON.stringify(list)}`);
      assert.equal(about(7).length, 0, 'not after `--`');
    },
  );
});

describe('shell, attacked: references a bash script evaluates as arithmetic', { timeout: 300_000 }, () => {
  // An input's value, passed as a variable, still runs `$(…)` where bash evaluates it as an expression: bash reads
  // `x[…]`'s subscript as arithmetic too. docs/shell.md: a reference in arithmetic or an array subscript is refused.
  const value = 'x[$(touch pwned)]';
  const places: [string, string][] = [
    ['an array element assigned (`a[…]=`)', 'a[${inputs.n}]=1; echo ok'],
    ['bash\'s old arithmetic (`$[…]`)', 'echo $[ ${inputs.n} + 1 ]'],
    ['a substring\'s offset (`${s:…}`)', 's=hello; echo "$${s:${inputs.n}}"'],
  ];
  for (const [name, script] of places) {
    it(
      `refuses a reference in ${name} (\`${script}\`)`,
      async (t) => {
        const dir = await tempDir(t);
        const file = await writeWorkflow(dir, `inputs:\n  n: { type: string }\nsteps:\n  - id: s\n    shell: { run: '${script}', shell: bash }\n`);
        const result = await run(['run', file, '--no-store', '-i', `n=${value}`], { cwd: dir });
        assert.equal(existsSync(join(dir, 'pwned')), false, 'nothing in the value ran');
        assert.equal(result.code, 2, 'refused at validate (shell_reference_place), like `$((…))`');
      },
    );
  }
});

describe('shell, attacked: blocks that would let data name a variable or the shell', () => {
  it('refuses them at validate, located', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(
      dir,
      `inputs:
  sh: { type: string, default: bash }
steps:
  - id: a
    shell: { run: 'echo hi' }
  - id: whole-env
    shell: { run: 'true', env: "\${steps.a.output}" }
  - id: env-name
    shell: { run: 'true', env: { "\${steps.a.output}": x } }
  - id: reserved
    shell: { run: 'true', env: { CONDUCTOR_ARG_1: x } }
  - id: which-shell
    shell: { run: 'echo \${steps.a.output}', shell: "\${inputs.sh}" }
  - id: stderr
    shell: { run: 'echo \${steps.a.stderr} \${steps.a.exitCode}', shell: bash }
`,
    );
    const { code, list } = await diagnostics(file, dir);
    assert.equal(code, 2);
    assert.deepEqual(
      list.map((d) => [d.line, d.code]),
      [[7, 'invalid_type'], [9, 'invalid_key'], [11, 'invalid_key'], [13, 'invalid_value'], [15, 'shell_step_output']],
      JSON.stringify(list),
    );
  });
});

describe('shell, attacked: careless blocks a missing program hides in', { timeout: 300_000 }, () => {
  it(
    'finds a literal program written as a number before anything runs',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(dir, `steps:\n  - id: first\n    file: { action: write, path: ran.txt, content: x }\n  - id: num\n    shell: { run: [404, x] }\n`);
      const result = await run(['run', file, '--no-store'], { cwd: dir });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(existsSync(join(dir, 'ran.txt')), false, 'nothing ran');
    },
  );

  it(
    'looks a program up on a relative PATH entry from the step\'s folder, as the run will',
    async (t) => {
      const dir = await tempDir(t);
      await mkdir(join(dir, 'sub/tools'), { recursive: true });
      await writeFile(join(dir, 'sub/tools/mytool'), '#!/bin/sh\necho mytool ran\n', { mode: 0o755 });
      const file = await writeWorkflow(join(dir, 'sub'), `steps:\n  - id: tool\n    shell: { run: mytool, env: { PATH: "tools:/usr/bin:/bin" } }\n`);
      const inside = await json(['run', file], join(dir, 'sub'));
      assert.equal(inside.report.steps.tool.output, 'mytool ran', 'found from the step\'s folder');
      const outside = await json(['run', file], dir);
      assert.equal(outside.code, 0, outside.stderr);
      assert.equal(outside.report.steps.tool.output, 'mytool ran');
    },
  );

  for (const [name, runValue] of [
    ['blanks only', '"   "'],
    ['an empty quoted word', `'"" x'`],
    ['an empty list element', '[""]'],
  ] as const) {
    it(
      `refuses a command line whose program is empty as written (${name}) at validate`,
      async (t) => {
        const dir = await tempDir(t);
        const file = await writeWorkflow(dir, `steps:\n  - id: first\n    file: { action: write, path: ran.txt, content: x }\n  - id: empty\n    shell: { run: ${runValue} }\n`);
        const { code } = await diagnostics(file, dir);
        assert.equal(code, 2);
        const result = await run(['run', file, '--no-store'], { cwd: dir });
        assert.equal(result.code, 2, result.stderr);
        assert.equal(existsSync(join(dir, 'ran.txt')), false, 'nothing ran');
      },
    );
  }
});

describe('shell, attacked: secrets in what a command prints', { timeout: 300_000 }, () => {
  it('masks them in stdout, stderr, the failure message and detail, the terminal, --json and the run store', async (t) => {
    const dir = await tempDir(t);
    const home = await tempDir(t);
    const token = 'ghp_Q3vR8sT1uV4wX7yZ0aB2cD5eF';
    const named = 'plain-but-named-secret';
    const given = 'tok-9f8e7d6c5b4a';
    const file = await writeWorkflow(
      dir,
      `config:
  secrets: [PLAIN_VAR]
steps:
  - id: talk
    shell:
      run: printf '%s %s\\n' "$GITHUB_TOKEN" "$PLAIN_VAR"; printf 'warn %s %s\\n' "$GITHUB_TOKEN" "$PLAIN_VAR" >&2
      shell: sh
  - id: fails
    continueOnError: true
    shell:
      run: printf 'line one\\n%s\\n' "$GITHUB_TOKEN" >&2; printf '%s' "$PLAIN_VAR" >&2; exit 3
      shell: sh
  - id: login
    llm: { model: "echo:x", prompt: "${given}" }
  - id: use
    continueOnError: true
    shell: { run: 'echo "using $API_TOKEN" >&2; exit 1', shell: sh, env: { API_TOKEN: "\${steps.login.output}" } }
`,
    );
    const env = { GITHUB_TOKEN: token, PLAIN_VAR: named, CONDUCTOR_HOME: home };
    const jsonRun = await run(['run', file, '--json'], { cwd: dir, env });
    const textRun = await run(['run', file], { cwd: dir, env });
    const report = JSON.parse(jsonRun.stdout);
    assert.equal(report.steps.talk.output, '*** ***');
    assert.equal(report.steps.talk.properties.stderr, 'warn *** ***');
    assert.equal(report.steps.fails.error, 'shell: printf …: exited with code 3: line one ⏎ *** ⏎ ***');
    assert.equal(report.steps.fails.errorDetail, 'line one\n***\n***');
    assert.equal(report.steps.login.output, '***', 'a value a command gets as a credential is masked where it was made');
    assert.match(report.steps.use.error, /using \*\*\*$/);
    const store = readdirSync(home).map((f) => readFileSync(join(home, f)).toString('latin1')).join('\n');
    assert.match(store, /exited with code 3/, 'the run store holds the failure');
    for (const secret of [token, named, given]) {
      for (const [where, text] of [['--json', jsonRun.stdout + jsonRun.stderr], ['the terminal', textRun.stdout + textRun.stderr], ['the run store', store]] as const) {
        assert.ok(!text.includes(secret), `${secret} is not in ${where}`);
      }
    }
  });
});

describe('shell, attacked: no process outlives the run', { timeout: 180_000 }, () => {
  it(
    'ends a process the command started in a group of its own (a daemon), when the command exits',
    { todo: 'limitation (docs/shell.md, Stopping): a process that leaves the group on purpose (setsid, a daemon) is not stopped' },
    async (t) => {
      const dir = await workDir(t);
      await writeFile(
        join(dir, 'daemon.cjs'),
        `const { spawn } = require('node:child_process');
const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
require('node:fs').writeFileSync('pid', String(child.pid));
child.unref();
`,
      );
      const file = await writeWorkflow(dir, `inputs:\n  node: { type: string }\nsteps:\n  - id: start\n    shell: { run: ["\${inputs.node}", daemon.cjs] }\n`);
      const { code, stderr } = await json(['run', file, '-i', `node=${process.execPath}`], dir);
      assert.equal(code, 0, stderr);
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
      assert.ok(pid > 0 && gone(pid), `sleep ${pid} is gone once the run has ended`);
    },
  );

  it(
    'ends a running command when Conductor is hung up on (SIGHUP: the terminal closed)',
    async (t) => {
      const dir = await workDir(t);
      const file = await writeWorkflow(dir, `steps:\n  - id: slow\n    shell: { run: 'sleep 600 & echo $! > pid; wait', shell: sh }\n`);
      const { child, done } = conductor(['run', file, '--no-store'], { cwd: dir });
      const pid = await written(join(dir, 'pid'));
      child.kill('SIGHUP');
      await done;
      assert.ok(gone(pid), `sleep ${pid} is gone once Conductor has exited`);
    },
  );

  for (const presses of [1, 2]) {
    it(`ends a command that ignores SIGTERM when Ctrl-C is pressed ${presses === 1 ? 'once (SIGKILL after the grace)' : 'twice (SIGKILL at once)'}`, async (t) => {
      const dir = await workDir(t);
      const file = await writeWorkflow(dir, `steps:\n  - id: slow\n    shell: { run: "trap '' TERM; sleep 600 & echo $! > pid; wait", shell: sh }\n`);
      const { child, done } = conductor(['run', file, '--no-store'], { cwd: dir });
      const pid = await written(join(dir, 'pid'));
      void peek(child);
      child.kill('SIGINT');
      if (presses === 2) {
        // The second Ctrl-C once the first has been taken: the step is cancelled and its group was sent SIGTERM.
        while (!/cancelled/.test(await peek(child))) await delay(20);
        child.kill('SIGINT');
      }
      const result: CliResult = await done;
      assert.equal(result.code, 130, result.stderr);
      assert.ok(gone(pid), `sleep ${pid} (SIGTERM ignored) is gone once Conductor has exited`);
    });
  }

  it('ends a background job that closed its output and ignores SIGTERM, once the command exits', async (t) => {
    const dir = await workDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:\n  - id: bg\n    shell: { run: "(trap '' TERM; exec sleep 600) > /dev/null 2>&1 < /dev/null & echo $! > pid; echo started", shell: sh }\n`,
    );
    const { code, stderr, report } = await json(['run', file], dir);
    assert.equal(code, 0, stderr);
    assert.equal(report.steps.bg.output, 'started');
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    assert.ok(gone(pid), `sleep ${pid} is gone once the run has ended`);
  });

  it('does not retry a timed-out command, and ends its group', async (t) => {
    const dir = await workDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:\n  - id: slow\n    timeout: 4\n    retry: { attempts: 3, backoff: 0.01 }\n    shell: { run: 'echo run >> runs.txt; sleep 600 & echo $! > pid; wait', shell: sh }\n`,
    );
    const { code, report } = await json(['run', file], dir);
    assert.equal(code, 1);
    assert.equal(report.steps.slow.errorCode, 'timeout');
    assert.equal(await readFile(join(dir, 'runs.txt'), 'utf8'), 'run\n', 'one attempt');
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    assert.ok(gone(pid), `sleep ${pid} is gone once the run has ended`);
  });

  it('writes a huge stdin to a command that never reads it, and to one that never ends (stopped at its timeout)', async (t) => {
    const dir = await workDir(t);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: big
    shell: { run: "head -c 20000000 /dev/zero | tr '\\\\0' a", shell: sh, maxBytes: 30000000 }
  - id: ignores
    shell: { run: ["true"], stdin: "\${steps.big.output}" }
  - id: hangs
    timeout: 4
    continueOnError: true
    shell: { run: 'echo $$ > pid; exec sleep 600', shell: sh, stdin: "\${steps.big.output}" }
  - id: after
    dependsOn: [ignores]
    file: { action: write, path: after.txt, content: done }
`,
    );
    // Not --json: it would print the 20 MB output.
    const result = await run(['run', file, '--no-store'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(join(dir, 'after.txt'), 'utf8'), 'done', 'the step that never read its input succeeded');
    assert.match(result.stdout + result.stderr, /hangs failed in .*timed out after 4 s/);
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    assert.ok(gone(pid), `sleep ${pid} is gone once the run has ended`);
  });

  it('ends all 200 commands of a foreach, some ignoring SIGTERM, when another step fails', async (t) => {
    const dir = await workDir(t);
    await mkdir(join(dir, 'pids'));
    const n = 200;
    const items = Array.from({ length: n }, (_, i) => i);
    const file = await writeWorkflow(
      dir,
      `config:
  maxConcurrency: ${n + 1}
steps:
  - id: each
    foreach: ${JSON.stringify(items)}
    shell:
      run: [sh, -c, 'if [ $(($1 % 2)) = 0 ]; then trap "" TERM; fi; sleep 100 & echo $! > pids/$1.tmp; mv pids/$1.tmp pids/$1; wait', sh, "\${item}"]
  - id: fails
    shell:
      run: 'while [ $(ls pids | grep -vc tmp) -lt ${n} ]; do sleep 0.05; done; exit 1'
      shell: sh
`,
    );
    const { code, report } = await json(['run', file], dir);
    assert.equal(code, 1);
    assert.equal(report.steps.fails.status, 'failed');
    assert.equal(report.steps.each.status, 'cancelled');
    const pids = readdirSync(join(dir, 'pids')).map((f) => Number(readFileSync(join(dir, 'pids', f), 'utf8')));
    assert.equal(pids.length, n);
    assert.deepEqual(pids.filter((pid) => !gone(pid)), [], 'every sleep is gone once the run has ended');
  });
});

/** What the CLI has printed so far (its stdout and stderr, collected by `conductor()`'s own listeners). */
const seen = new WeakMap<object, string>();
async function peek(child: import('node:child_process').ChildProcess): Promise<string> {
  if (!seen.has(child)) {
    seen.set(child, '');
    const add = (d: Buffer) => seen.set(child, seen.get(child)! + String(d));
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
  }
  return seen.get(child)!;
}
