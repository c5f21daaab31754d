/**
 * A workflow's bytes → its text. Decoding is strict: a byte that is not UTF-8 is a problem at its line and
 * column, never a silent U+FFFD in a prompt or a URL (which is what reading it as 'utf8' used to do).
 */
import type { Diagnostic } from '../core/errors.ts';

// ignoreBOM keeps a byte-order mark in the text, as reading with 'utf8' did: the text's hash (which tells
// `resume` whether the file changed) stays what earlier runs recorded.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type Decoded = { ok: true; text: string } | { ok: false; problem: Diagnostic };

export function decodeWorkflow(bytes: Uint8Array, file: string): Decoded {
  try {
    return { ok: true, text: strict.decode(bytes) };
  } catch {
    // The decoder says only that something is wrong; find where (slower, and only for a broken file).
    const at = firstInvalidByte(bytes);
    // (lastIndexOf counts a negative start from the end: a bad first byte would find the last line.)
    const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    // Columns count UTF-16 units, as every other diagnostic's do; the line up to `at` is valid UTF-8.
    const column = strict.decode(bytes.subarray(lineStart, at)).length + 1;
    const byte = at < bytes.length ? `byte 0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')}` : 'a byte';
    return {
      ok: false,
      problem: {
        file,
        line,
        column,
        code: 'invalid_utf8',
        message: `the file is not valid UTF-8: ${byte} here does not start a UTF-8 character`,
        hint: 'save the file as UTF-8 (it may be in Latin-1 or Windows-1252); the code frame shows the byte as �',
      },
    };
  }
}

/**
 * Where the first ill-formed sequence starts (Unicode's table 3-7 of well-formed UTF-8): a byte that cannot
 * begin a character, or the first byte of a character cut short. Returns `bytes.length` if there is none.
 */
export function firstInvalidByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The number of continuation bytes, and the range the first of them must be in (which rules out
    // overlong forms, surrogates and code points above U+10FFFF).
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) [need, lo, hi] = [2, b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf];
    else if (b >= 0xf0 && b <= 0xf4) [need, lo, hi] = [3, b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}
