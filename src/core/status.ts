/**
 * Statuses of a step run. While running, a step is `pending` or `running`; when the run ends every step has
 * one of the final statuses:
 * - `succeeded`
 * - `failed`: it ran and failed (this is what stopped the run)
 * - `cancelled`: it was running when the run stopped, and was aborted
 * - `skipped`: it never started: its `if` was false, or a step it depends on did not succeed (see SkipReason)
 * - `not_run`: it never started because the run stopped first (it did not depend on the failure)
 */
export type StepStatus = 'pending' | 'running' | FinalStepStatus;
export type FinalStepStatus = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'not_run';

/**
 * How a run ended: `budget_exceeded` when its budget (`config.budget`, `--max-cost`) stopped it: nothing new
 * started, the calls in flight finished, and `resume` with a larger budget continues it without paying again.
 */
export type RunStatus = 'succeeded' | 'failed' | 'cancelled' | 'budget_exceeded';

/**
 * Why a step was skipped (one `skipped` status, always with a reason):
 * - `condition`: its `if` was false;
 * - `upstream_skipped`: a step it depends on was skipped;
 * - `upstream_failed`: a step it depends on failed (continued, or the failure that stopped the run);
 * - `upstream_cancelled`: a step it depends on was cancelled when the run stopped.
 */
export type SkipReason = 'condition' | 'upstream_skipped' | 'upstream_failed' | 'upstream_cancelled';

/** Final statuses of one item of a `foreach` step (`not_run`: the run stopped before it started). */
export type ItemStatus = 'succeeded' | 'failed' | 'cancelled' | 'not_run';
