/**
 * `if` conditions: CEL expressions (Common Expression Language), compiled once and evaluated with `steps`,
 * `inputs` and `env` bound as variables — values are never spliced into the expression text.
 *
 * CONTRACT (the implementation is being written): the run loop calls `evaluateCondition` when every step the
 * condition depends on has settled.
 */
import type { ConditionSpec } from '../definition/types.ts';

/** What `steps.<id>` reads in a condition: the step's status, and its output and properties when it has them. */
export interface ConditionStep {
  status: string;
  output?: unknown;
  [property: string]: unknown;
}

export interface ConditionVariables {
  /** Only the steps the condition names. */
  steps: Readonly<Record<string, ConditionStep>>;
  inputs: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * The condition's value: `{ ok: true, value }` with a boolean, or `{ ok: false, code, message }` where `code` is
 * `condition_not_boolean` (it evaluated to something else) or `condition_error` (evaluation failed: a missing
 * key, a type mismatch, …). Never throws.
 */
export type ConditionResult = { ok: true; value: boolean } | { ok: false; code: 'condition_not_boolean' | 'condition_error'; message: string; hint?: string };

export function evaluateCondition(condition: ConditionSpec, variables: ConditionVariables): ConditionResult {
  void condition;
  void variables;
  return { ok: false, code: 'condition_error', message: 'conditions are not implemented yet' };
}
