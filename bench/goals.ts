/**
 * Issue #16's goals, as each scenario reports them: the figure measured, the floor measured beside it in the
 * same run, met or missed, and where missed the measured reason. `npm run bench` prints them all together at the
 * end and at the top of bench/RESULTS.md.
 */
export interface Goal {
  /** Which goal: #16's 1–6, or another issue's (`#17 T6`). */
  goal: number | string;
  /** What is measured, e.g. "5,000 instant `file` steps, whole process, CPU per step". */
  what: string;
  /** Conductor's figure, formatted, e.g. "212 µs". */
  measured: string;
  /** The floor measured in the same run, formatted, e.g. "js-yaml + reads: 120 µs". */
  floor: string;
  /** The ratio or figure the goal is stated in, formatted, e.g. "1.77× (goal ≤ 2×)". */
  ratio: string;
  met: boolean;
  /** Where missed: the measured reason (where the difference goes). */
  reason?: string;
}

/** A scenario writes its section with `out` and returns its goals. */
export type Out = (text?: string) => void;

export const fmt = (x: number, digits = 2) => x.toFixed(digits);
export { median } from '../src/core/median.ts';
export const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

/** The goals as one Markdown table. */
export function goalTable(goals: readonly Goal[], out: Out): void {
  out('| # | what | Conductor | floor (same run) | ratio | goal | where it goes (when missed) |');
  out('| ---: | --- | ---: | --- | ---: | --- | --- |');
  for (const g of goals) out(`| ${g.goal} | ${g.what} | ${g.measured} | ${g.floor} | ${g.ratio} | ${verdict(g.met)} | ${g.met ? '' : (g.reason ?? '')} |`);
}
