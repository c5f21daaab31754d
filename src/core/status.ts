/**
 * Statuses of a step run. While running, a step is `pending` or `running`; when the run ends every step has
 * one of the final statuses:
 * - `succeeded`
 * - `failed`: it ran and failed (this is what stopped the run)
 * - `cancelled`: it was running when the run stopped, and was aborted
 * - `skipped`: it never started because a step it depends on did not succeed
 * - `not_run`: it never started because the run stopped first (it did not depend on the failure)
 */
export type StepStatus = 'pending' | 'running' | FinalStepStatus;
export type FinalStepStatus = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'not_run';

export type RunStatus = 'succeeded' | 'failed' | 'cancelled';
