import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lexCommand, literalProgram, splitCommand } from './words.ts';

/** The adversarial values every test passes: each must arrive as it is, in one argument. */
const NASTY = [
  '; rm -rf ~',
  '$(touch pwned)',
  '`touch pwned`',
  `it's "quoted" \\ and 'single'`,
  'two\nlines\n',
  '$HOME ${HOME} ~',
  '* ?.txt [a-z] {a,b}',
  '| cat > out && echo x &',
  '',
  '   ',
  '--flag=-x',
];

/** A template as a tagged template literal gives it: `split\`a ${x} b\``. */
function split(strings: TemplateStringsArray, ...values: string[]): string[] {
  return splitCommand(strings.raw, values);
}

describe('splitting a command line without a shell', () => {
  it('splits at blanks, groups by quotes and unescapes as a shell does', () => {
    assert.deepEqual(splitCommand(['grep -n "a b" file'], []), ['grep', '-n', 'a b', 'file']);
    assert.deepEqual(splitCommand([`echo 'it''s' "say \\"hi\\"" a\\ b   \t c`], []), ['echo', 'its', 'say "hi"', 'a b', 'c']);
    assert.deepEqual(splitCommand(['printf "%s\\n" \'\\n\' ""'], []), ['printf', '%s\\n', '\\n', '']);
    assert.deepEqual(splitCommand(['a \\\n  b'], []), ['a', 'b'], 'a backslash-newline joins lines');
    assert.deepEqual(splitCommand(['  '], []), []);
  });

  it('puts each value into the word where it sits, whole: never split, never read', () => {
    for (const value of NASTY) {
      assert.deepEqual(split`prog ${value}`, ['prog', value], JSON.stringify(value));
      assert.deepEqual(split`prog "${value}"`, ['prog', value]);
      assert.deepEqual(split`prog '${value}'`, ['prog', value]);
      assert.deepEqual(split`prog --x=${value}!`, ['prog', `--x=${value}!`]);
      assert.deepEqual(split`prog "a b ${value}" c`, ['prog', `a b ${value}`, 'c']);
      assert.deepEqual(split`prog ${value}${value} ${value}`, ['prog', value + value, value]);
    }
  });

  it('refuses text it cannot split', () => {
    assert.throws(() => splitCommand(['echo "open'], []), /a double quote \("\) is not closed/);
    assert.throws(() => splitCommand(["echo 'open ", ''], ['x']), /single quote/);
    assert.throws(() => splitCommand(['echo \\'], []), /ends in a backslash/);
    assert.throws(() => splitCommand(['echo \\', ''], ['x']), /backslash just before a reference/);
  });

  it('tells shell syntax in the literal text, which would be passed as text', () => {
    const syntax = (line: string) => lexCommand([line]).shellSyntax;
    assert.equal(syntax('ls | wc -l'), '|');
    assert.equal(syntax('a; b'), ';');
    assert.equal(syntax('a && b'), '&&');
    assert.equal(syntax('sleep 1 &'), '&');
    assert.equal(syntax('sort > out.txt'), '>');
    assert.equal(syntax('cat >> log'), '>>');
    assert.equal(syntax('echo $HOME'), '$HOME');
    assert.equal(syntax('echo $(date)'), '$(');
    assert.equal(syntax('echo ${HOME}'), '${HOME}');
    assert.equal(syntax('echo `date`'), '`');
    assert.equal(syntax('make\nmake install'), '\n', 'two lines are two commands in a shell');
    assert.equal(lexCommand(['echo ', '\n']).shellSyntax, undefined, 'a trailing line break is no second line');
    assert.equal(syntax('make \\\n  install\n'), undefined, 'a backslash joins the lines');
    for (const fine of ['grep "a|b" x', "echo ';' '&&' '$HOME'", 'find . -exec rm {} \\;', 'curl http://x/?a=1&b=2', 'echo price: 5$', 'echo \\$HOME']) {
      assert.equal(syntax(fine), undefined, fine);
    }
  });

  it('knows the program when the literal text spells it whole', () => {
    assert.equal(literalProgram(['git diff --stat ', '']), 'git');
    assert.equal(literalProgram(['"my tool" ', '']), 'my tool');
    assert.equal(literalProgram(['./bin/', ' x']), undefined, 'a value is part of it');
    assert.equal(literalProgram(['', '']), undefined);
    assert.equal(literalProgram(['wc']), 'wc');
  });
});
