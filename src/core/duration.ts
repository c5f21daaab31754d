/** Durations as people write them in a workflow or on the command line: `90s`, `30m`, `12h`, `7d`, `2w`. */

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$/;

/** The duration in ms, or undefined when `text` is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** What a duration looks like, for messages. */
export const DURATION_HINT = 'a number and a unit: s, m, h, d or w (`90s`, `12h`, `7d`)';
