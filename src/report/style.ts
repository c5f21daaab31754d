/** Terminal styling: colour only on a TTY, never with NO_COLOR; FORCE_COLOR forces it. */
export interface Style {
  color: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function createStyle(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>> = process.env): Style {
  const force = env['FORCE_COLOR'];
  const color = env['NO_COLOR'] ? false : force !== undefined && force !== '0' && force !== 'false' ? true : Boolean(stream.isTTY) && env['TERM'] !== 'dumb';
  const wrap = (open: number, close: number) => (s: string) => (color ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return {
    color,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}
