import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeWorkflow, firstInvalidByte } from './decode.ts';

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

describe('reading a workflow as UTF-8', () => {
  it('decodes valid text, keeping a byte-order mark as reading with utf8 did', () => {
    assert.deepEqual(decodeWorkflow(bytes('steps: [] # café 🎉\n'), 'w.yaml'), { ok: true, text: 'steps: [] # café 🎉\n' });
    assert.deepEqual(decodeWorkflow(bytes([0xef, 0xbb, 0xbf], 'a: 1\n'), 'w.yaml'), { ok: true, text: '\uFEFFa: 1\n' });
  });

  it('names the line and column of the first byte that is not UTF-8, counting columns as the other diagnostics do', () => {
    const result = decodeWorkflow(bytes('steps:\n  - id: a\n    llm: { prompt: "caf', [0xe9], ' 🎉', [0xff], '" }\n'), '/w/x.yaml');
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.problem, {
      file: '/w/x.yaml',
      line: 3,
      column: 24,
      code: 'invalid_utf8',
      message: 'the file is not valid UTF-8: byte 0xE9 here does not start a UTF-8 character',
      hint: 'save the file as UTF-8 (it may be in Latin-1 or Windows-1252); the code frame shows the byte as �',
    });
    // Characters before it on its line count as JavaScript counts them (🎉 is two).
    const later = decodeWorkflow(bytes('a: "🎉é', [0xc3, 0x28], '"\n'), 'x.yaml');
    assert.deepEqual(later.ok ? undefined : [later.problem.line, later.problem.column], [1, 8]);
    const first = decodeWorkflow(bytes([0xf0], 'steps:\n  - id: a\n'), 'x.yaml');
    assert.deepEqual(first.ok ? undefined : [first.problem.line, first.problem.column], [1, 1], 'the first byte of the file');
  });

  it('finds every kind of ill-formed sequence where it starts', () => {
    const cases: [number[], number][] = [
      [[0x61, 0x80], 1], // a continuation byte with nothing before it
      [[0x61, 0xc3], 1], // a character cut short by the end of the file
      [[0xc0, 0x80], 0], // an overlong form
      [[0xe0, 0x80, 0x80], 0], // overlong, three bytes
      [[0xed, 0xa0, 0x80], 0], // a surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0xf5, 0x80, 0x80, 0x80], 0],
      [[0xe2, 0x82, 0x61], 0], // cut short in the middle of the file
    ];
    for (const [input, at] of cases) assert.equal(firstInvalidByte(Uint8Array.from(input)), at, Buffer.from(input).toString('hex'));
    assert.equal(firstInvalidByte(bytes('ok é € 🎉 \u{10FFFF}')), Buffer.byteLength('ok é € 🎉 \u{10FFFF}'));
  });
});
