import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { scriptSites, shellScript, variableReference, type ShellName, type Site } from './script.ts';

/** Values that would run something, split, glob or expand if they were ever read as shell text. */
const NASTY = [
  '; touch pwned; echo ',
  '$(touch pwned)',
  '`touch pwned`',
  `it's "quoted" \\ and 'single' \\'`,
  'two\nlines\n',
  '$HOME ${HOME} ~ $0 $1 $@',
  '* ?.txt [a-z] {a,b}',
  '| touch pwned > out && echo x &',
  '',
  '  spaced  ',
  "'; touch pwned; '",
  '"; touch pwned; "',
  'EOF',
  '$((1+1))',
];

const dir = mkdtempSync(join(tmpdir(), 'conductor-script-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the script a template makes under `shell`, values passed as the action passes them; stdout. */
function run(shell: ShellName, strings: readonly string[], values: readonly string[]): string {
  const { script, vars } = shellScript(strings, values, shell);
  const result = spawnSync(shell, ['-c', script], { cwd: dir, env: { ...process.env, ...vars }, encoding: 'utf8' });
  assert.equal(result.status, 0, `${script}\n${result.stderr}`);
  assert.deepEqual(readdirSync(dir), [], `nothing was created by ${script}`);
  return result.stdout;
}

/** A command line with `@@` where each reference sits, split as `ctx.parts` gives it. */
const tpl = (line: string) => line.split('@@');

describe('references in a shell command line', () => {
  for (const shell of ['bash', 'sh'] as const) {
    it(`reach ${shell} as variables, whole and unexpanded, wherever they sit`, () => {
      const cases: [readonly string[], (v: string) => string][] = [
        [tpl(`printf '[%s]' @@`), (v) => `[${v}]`],
        [tpl(`printf '[%s]' "@@"`), (v) => `[${v}]`],
        [tpl(`printf '[%s]' '@@'`), (v) => `[${v}]`],
        [tpl(`printf '[%s]' 'a'@@"b"`), (v) => `[a${v}b]`],
        [tpl(`printf '[%s]' "pre @@ post"`), (v) => `[pre ${v} post]`],
        [tpl(`printf '[%s]' 'pre @@ post'`), (v) => `[pre ${v} post]`],
        // A command substitution drops the trailing newlines of what it captures: the shell's rule, not a value's.
        [tpl(`printf '[%s]' "$(printf %s @@)"`), (v) => `[${v.replace(/\n+$/, '')}]`],
        [tpl(`printf '[%s]' "$(printf %s "@@")"`), (v) => `[${v.replace(/\n+$/, '')}]`],
        [tpl(`printf '[%s]' "\`printf %s @@\`"`), (v) => `[${v.replace(/\n+$/, '')}]`],
        [tpl(`printf '[%s]' \${UNSET:-@@}`), (v) => `[${v}]`],
        [tpl(`printf '[%s]' "\${UNSET:-@@}"`), (v) => `[${v}]`],
        [tpl(`x=@@; printf '[%s]' "$x"`), (v) => `[${v}]`],
        [tpl(`printf '[%s]' @@ # and @@ in a comment`), (v) => `[${v}]`],
        [tpl(`cat <<EOF
[@@] "@@" '@@'
EOF`), (v) => `[${v}] "${v}" '${v}'\n`],
        [tpl(`cat <<-EOF; printf '[%s]' @@
	<@@>
	EOF`), (v) => `<${v}>\n[${v}]`],
        [tpl(`case @@ in *) printf '[%s]' "@@";; esac`), (v) => `[${v}]`],
      ];
      for (const [strings, expected] of cases) {
        for (const value of NASTY) {
          const values = strings.slice(1).map(() => value);
          assert.equal(run(shell, strings, values), expected(value), `${strings.join('‹›')} with ${JSON.stringify(value)}`);
        }
      }
    });
  }

  it("reach bash inside $'…' too", () => {
    for (const value of NASTY) assert.equal(run('bash', [`printf '[%s]' $'a\\t`, `'`], [value]), `[a\t${value}]`);
  });

  it('are refused where a value would be evaluated or cannot be expanded', () => {
    const problem = (shell: ShellName, ...strings: string[]) => scriptSites(strings, shell).problems.map((p) => p.message);
    assert.match(problem('bash', 'echo $((', ' + 1))')[0]!, /arithmetic/);
    assert.match(problem('sh', 'echo $((', ' + 1))')[0]!, /arithmetic/);
    assert.match(problem('bash', '(( n = ', ' ))')[0]!, /arithmetic/);
    assert.match(problem('bash', 'echo ${a[', ']}')[0]!, /arithmetic/);
    assert.match(problem('bash', "cat <<'EOF'\n", '\nEOF')[0]!, /quoted delimiter/);
    assert.match(problem('bash', 'cat <<', '\nx\n')[0]!, /delimiter/);
    assert.match(problem('bash', 'echo \\', '')[0]!, /backslash/);
    assert.deepEqual(problem('bash', 'echo $(( 1 + 1 )) ', ''), [], 'arithmetic before it is over by then');
    assert.deepEqual(problem('bash', "cat <<'EOF'\nx\nEOF\necho ", ''), [], 'and so is the here-document');
  });

  it('are quoted for where they sit', () => {
    const sites = (shell: ShellName, ...strings: string[]) => scriptSites(strings, shell).sites;
    assert.deepEqual(sites('bash', 'a ', ' "', '" \'', "' $'", "'"), ['bare', 'double', 'single', 'ansi']);
    assert.deepEqual(sites('sh', "a $'", "'"), ['single'], "sh has no $'…': the quote is an ordinary one");
    assert.deepEqual(sites('bash', 'a "$(b ', ')" "${x:-', '}" ${x:-', '}'), ['bare', 'double', 'bare']);
  });

  it('run nothing even where the lexer misjudged the quoting: every reference form in every place', () => {
    const forms: Site[] = ['bare', 'double', 'single', 'ansi'];
    const places = ['echo @@', 'echo "@@"', "echo '@@'", 'echo "$(echo @@)"', 'cat <<EOF\n@@\nEOF', 'echo ${UNSET:-@@}'];
    for (const shell of ['bash', 'sh'] as const) {
      for (const form of forms) {
        for (const place of places) {
          const script = place.replace('@@', () => variableReference('V', form));
          for (const value of NASTY) {
            const result = spawnSync(shell, ['-c', script], { cwd: dir, env: { ...process.env, V: value }, encoding: 'utf8' });
            assert.ok(result.status === 0 || result.status === 2, `${shell} ${script}: ${result.stderr}`); // 2: a quote left open
            assert.deepEqual(readdirSync(dir), [], `${shell}: ${script} with ${JSON.stringify(value)} ran nothing`);
          }
        }
      }
    }
  });
});
