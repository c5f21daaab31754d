import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceFile } from './source.ts';

/** Where `target` (found in the parsed value of `x`) is written, as line:column, and the text found there. */
function locate(yaml: string, target: string, occurrence = 0): [string, string] {
  const source = new SourceFile('f.yaml', yaml);
  const value = (source.doc.toJS() as { x: string }).x;
  let offset = -1;
  for (let k = 0; k <= occurrence; k++) offset = value.indexOf(target, offset + 1);
  assert.ok(offset >= 0, `${target} in ${JSON.stringify(value)}`);
  const { line, column } = source.locateInValue(['x'], offset);
  const written = yaml.split('\n')[line - 1]!.slice(column - 1);
  return [`${line}:${column}`, written];
}

describe('SourceFile.locateInValue', () => {
  it('finds a character of a plain, quoted or block string where it is written', () => {
    assert.deepEqual(locate('x: a && b == 1\n', 'b'), ['1:9', 'b == 1']);
    assert.deepEqual(locate('x: a &&\n  b == 1\n', 'b'), ['2:3', 'b == 1']);
    assert.deepEqual(locate("x: '''it''s'' == b'\n", 'b'), ['1:18', "b'"]);
    assert.deepEqual(locate('x: "\\"q\\" == b"\n', 'b'), ['1:14', 'b"']);
    assert.deepEqual(locate('x: |\n  first &&\n    second == 1\n', 'second'), ['3:5', 'second == 1']);
    assert.deepEqual(locate('x: >-\n  first\n  && b\n', 'b'), ['3:6', 'b']);
  });

  it('counts escapes as what they stand for: whitespace, joined lines, characters outside the BMP', () => {
    assert.deepEqual(locate('x: "a\\tb"\n', 'b'), ['1:8', 'b"']);
    assert.deepEqual(locate('x: "a\\u0020b"\n', 'b'), ['1:12', 'b"']);
    assert.deepEqual(locate('x: "\\U0001F600 b"\n', 'b'), ['1:16', 'b"']);
    assert.deepEqual(locate('x: "a \\\n  b"\n', 'b'), ['2:3', 'b"']);
  });

  it('an offset at the end of the string points just after its last character', () => {
    const source = new SourceFile('f.yaml', 'x: "a > "\n');
    assert.deepEqual(source.locateInValue(['x'], 4), { file: 'f.yaml', line: 1, column: 8 });
  });

  it('falls back to the value, or the nearest part of the path, when the value is not a string', () => {
    const source = new SourceFile('f.yaml', 'x: [1]\n');
    assert.deepEqual(source.locateInValue(['x'], 3), { file: 'f.yaml', line: 1, column: 4 });
    assert.deepEqual(source.locateInValue(['y'], 0), { file: 'f.yaml', line: 1, column: 1 });
  });
});
