/**
 * Adversarial review of #13 through the CLI (the built binary): hangs that neither a timeout nor Ctrl-C ends,
 * a resume that hands back an item done with another secret, bad input that is not told as bad input, and
 * `validate` on malformed values of the new keys. Each defect found failed here before its fix. A hang is judged by whether the process ends on its own within a deadline far above what
 * the fixed behaviour needs (milliseconds); the process is killed by its own id at the deadline.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { conductor, run, type CliResult } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

/** Runs the CLI; a result, or `undefined` if it had not ended by the deadline (then it is killed). */
async function ends(args: string[], deadlineMs: number): Promise<CliResult | undefined> {
  const { child, done } = conductor(args);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), deadlineMs)));
  const result = await Promise.race([done, late]);
  clearTimeout(timer);
  if (result === undefined) {
    child.kill('SIGKILL');
    await done;
  }
  return result;
}

describe('adversarial #13: nothing data contains can hang the process', { timeout: 180_000 }, () => {
  it(
    'a condition whose `matches()` backtracks catastrophically on a step value ends (a timeout, Ctrl-C)',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `inputs:\n  text: { type: string }\nsteps:\n  - id: a\n    llm: { model: "echo:x", prompt: "\${inputs.text}" }\n  - id: b\n    if: steps.a.output.matches("^(a+)+$")\n    timeout: 1\n    llm: { model: "echo:x", prompt: "x" }\n`,
      );
      const result = await ends(['run', file, '--no-store', '-i', `text=${'a'.repeat(48)}!`], 15_000);
      assert.ok(result, 'the run never ended (killed after 15 s)');
      assert.notEqual(result.code, 0);
      assert.doesNotMatch(result.stderr, /internal error/);
    },
  );

  it(
    'a glob pattern a step chooses, with braces that expand to 100,000 patterns, ends at its timeout',
    async (t) => {
      const dir = await tempDir(t);
      const group = '{a,b,c,d,e,f,g,h,i,j}';
      const file = await writeWorkflow(
        dir,
        `inputs:\n  p: { type: string }\nsteps:\n  - id: pick\n    llm: { model: "echo:x", prompt: "\${inputs.p}" }\n  - id: g\n    timeout: 0.05\n    file: { action: glob, pattern: "\${steps.pick.output}" }\n`,
      );
      const result = await ends(['run', file, '--no-store', '-i', `p=**/${`${group}*`.repeat(5)}/**/*.txt`], 15_000);
      assert.ok(result, 'the run never ended (killed after 15 s)');
      assert.equal(result.code, 1);
    },
  );
});

describe('adversarial #13: resume never hands back an item done with another value', { timeout: 180_000 }, () => {
  let server: StandIn;
  before(async () => (server = await StandIn.start()));
  after(() => server.close());

  it(
    'an item is not reused when the secret it is (a per-account token) changed',
    async (t) => {
      const dir = await tempDir(t);
      const accounts: Record<string, string> = { 'sk-test-AAAAAAAAAAAA': 'alice', 'sk-test-BBBBBBBBBBBB': 'bob', 'sk-test-CCCCCCCCCCCC': 'carol' };
      let carolUp = false;
      server.route('/adv13/me', (req, res) => {
        const token = String(req.headers['authorization'] ?? '').replace(/^Bearer /, '');
        const name = accounts[token];
        if (!name || (name === 'carol' && !carolUp)) return reply(res, 404, { error: 'no such account' });
        reply(res, 200, { account: name });
      });
      const file = await writeWorkflow(
        dir,
        `inputs:\n  api_key: { type: array }\nsteps:\n  - id: me\n    foreach: \${inputs.api_key}\n    http: { url: "${server.url}/adv13/me", headers: { Authorization: "Bearer \${item}" } }\noutputs:\n  who: \${steps.me.output}\n`,
      );
      const store = join(dir, 'runs.db');
      const first = await run(['run', file, '--json', '--store', store, '-i', `api_key=${JSON.stringify(['sk-test-AAAAAAAAAAAA', 'sk-test-CCCCCCCCCCCC'])}`]);
      assert.equal(first.code, 1, first.stderr);
      const runId = JSON.parse(first.stdout).runId as string;
      carolUp = true;
      // The same slot, another account's token: the user resumes with the tokens given again (they are not stored).
      const second = await run(['resume', runId, '--json', '--store', store, '-i', `api_key=${JSON.stringify(['sk-test-BBBBBBBBBBBB', 'sk-test-CCCCCCCCCCCC'])}`]);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(JSON.parse(second.stdout).outputs.who, [{ account: 'bob' }, { account: 'carol' }]);
    },
  );
});

describe('adversarial #13: bad input is told as bad input', { timeout: 180_000 }, () => {
  it(
    'a list input nested 5,000 deep exits 2 with a message, not an internal error',
    async (t) => {
      const dir = await tempDir(t);
      const deep = '['.repeat(5000) + '1' + ']'.repeat(5000);
      await writeFile(join(dir, 'deep.json'), `[${deep}]`);
      const file = await writeWorkflow(dir, `inputs:\n  items: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.items}\n    llm: { model: "echo:x", prompt: "p \${foreach.index}" }\n`);
      const result = await run(['run', file, '--no-store', '-i', `items=@${join(dir, 'deep.json')}`]);
      assert.doesNotMatch(result.stderr, /internal error|this is a bug/);
      assert.equal(result.code, 2, result.stderr);
    },
  );

  it('malformed foreach / as / if / dependsOn / maxConcurrency / maxItems values: located, exit 2, no stack', async (t) => {
    const dir = await tempDir(t);
    const bad = [
      'foreach: null', 'foreach: 5', 'foreach: { a: 1 }', 'foreach: "abc"', 'foreach: "${steps.a.output} ${steps.a.output}"', 'foreach: ${item}',
      'foreach: !!set { a, b }', 'foreach: *nowhere', 'foreach: !custom [1]', 'foreach: [1]\n    as: steps', 'foreach: [1]\n    as: null',
      'foreach: [1]\n    as: "ü"', 'foreach: &x [1, 2]\n    as: *x', 'foreach: [1]\n    maxConcurrency: 0', 'foreach: [1]\n    maxConcurrency: .inf',
      'foreach: [1]\n    maxConcurrency: 1.5', 'foreach: [1]\n    continueOnError: "yes"', 'as: x', 'if: null', 'if: true', 'if: [a]', 'if: ""',
      'if: "x ${steps.a.output} y"', 'if: steps.a.output ==', `if: "${'('.repeat(40)}true${')'.repeat(40)}"`, `if: "${'a'.repeat(5000)} == 1"`,
      'if: "🙂 == 1"', 'if: item == 1', 'dependsOn: null', 'dependsOn: { a: 1 }', 'dependsOn: [[a]]', 'dependsOn: [b]', 'depends_on: [a]\n    dependsOn: [a]',
    ];
    for (const [n, line] of bad.entries()) {
      const file = await writeWorkflow(dir, `steps:\n  - id: a\n    llm: { model: "echo:x", prompt: hi }\n  - id: b\n    ${line}\n    llm: { model: "echo:x", prompt: x }\n`, `v${n}.yaml`);
      const result = await run(['validate', file]);
      assert.equal(result.code, 2, `${line}\n${result.stdout}${result.stderr}`);
      assert.match(result.stdout + result.stderr, new RegExp(`v${n}\\.yaml:\\d+:\\d+`), line);
      assert.doesNotMatch(result.stdout + result.stderr, /^\s+at .+:\d+:\d+\)?$/m, line);
    }
    for (const value of ['0', '-1', '1.5', 'null', '.nan', '"10"', '{ a: 1 }', '1e400']) {
      const file = await writeWorkflow(dir, `config:\n  maxItems: ${value}\nsteps:\n  - id: a\n    llm: { model: "echo:x", prompt: hi }\n`, 'max.yaml');
      const result = await run(['validate', file]);
      assert.equal(result.code, 2, value);
      assert.match(result.stdout + result.stderr, /max\.yaml:2:\d+/, value);
    }
  });

  it(
    'a condition comparing a status with a value it can never have is caught by validate',
    async (t) => {
      const dir = await tempDir(t);
      for (const condition of ['steps.a.status == "faild"', 'steps.a.status == 1']) {
        const file = await writeWorkflow(dir, `steps:\n  - id: a\n    llm: { model: "echo:x", prompt: hi }\n  - id: b\n    if: ${condition}\n    llm: { model: "echo:x", prompt: x }\n`);
        const result = await run(['validate', file]);
        assert.equal(result.code, 2, condition);
      }
    },
  );
});
