/** Calls a real provider. Loaded lazily by the `llm` action (see issue 4 for the AI SDK wiring). */
import { ConductorError } from '../core/errors.ts';
import type { ActionContext, ActionResult } from '../actions/types.ts';
import type { LlmInput } from '../actions/llm/index.ts';
import type { ModelRef } from './model.ts';

export async function generate(model: ModelRef, _input: LlmInput, _ctx: ActionContext): Promise<ActionResult> {
  throw new ConductorError('provider_unavailable', `provider \`${model.provider}\` is not wired up yet`, {
    hint: 'use the `echo` provider (CONDUCTOR_MODEL=echo) to try a workflow offline',
  });
}
