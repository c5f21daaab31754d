/**
 * Calls a real provider through the AI SDK. Loaded lazily by the `llm` action, so runs without llm steps (and
 * `--version`, `validate`) never load provider code. The SDK's own retries are off: retries, backoff and
 * rate limits are the engine's, so they follow the step's policy and never outlive the run.
 */
import { APICallError, generateText, jsonSchema, Output, streamText, type LanguageModel } from 'ai';
import type { ActionContext, ActionResult } from '../actions/types.ts';
import type { LlmInput } from '../actions/llm/index.ts';
import { ConductorError, networkFailure, StepFailedError } from '../core/errors.ts';
import { retryAfterMs } from '../core/retry.ts';
import { endpointFor, missingKey, type Endpoint } from './endpoint.ts';
import { AdaptiveLimiter, type CallFeedback } from './limiter.ts';
import type { ModelRef } from './model.ts';

export async function generate(model: ModelRef, input: LlmInput, ctx: ActionContext): Promise<ActionResult> {
  if (model.provider === 'echo') throw new Error('echo is answered by the llm action itself');
  const endpoint = endpointFor(model.provider, ctx.env);
  const keyProblem = missingKey(endpoint);
  if (keyProblem) throw keyProblem;
  const limiter = limiterFor(endpoint, ctx);
  const release = await limiter.acquire(ctx.signal, (reason, untilMs) => ctx.notify({ type: 'waiting', reason, untilMs }));
  let feedback: CallFeedback = { rateLimited: false };
  try {
    const common = {
      model: await modelFor(model, endpoint, ctx),
      prompt: input.prompt,
      ...(input.system === undefined ? {} : { instructions: input.system }),
      ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
      ...(input.maxTokens === undefined ? {} : { maxOutputTokens: input.maxTokens }),
      abortSignal: ctx.signal,
      maxRetries: 0,
      // The engine reports every call through its own events. The SDK's telemetry (tracing-channel spans,
      // events copied for integrations) cost ~10 % of a call's CPU with nothing listening.
      telemetry: { isEnabled: false },
    };
    let output: unknown;
    let usage: { inputTokens?: number | undefined; outputTokens?: number | undefined };
    let finishReason: string;
    let headers: Record<string, string> | undefined;
    if (input.schema || !input.stream) {
      const structured = input.schema ? { output: Output.object({ schema: jsonSchema(input.schema as Parameters<typeof jsonSchema>[0]) }) } : {};
      const result = await generateText({ ...common, ...structured });
      output = input.schema ? result.output : result.text;
      usage = result.usage;
      finishReason = result.finishReason;
      headers = result.response.headers;
    } else {
      // Streaming: the answer arrives as it is written; a cancelled run closes the connection mid-answer.
      // Errors arrive as stream parts and are handled below; the SDK's default would print them.
      const result = streamText({ ...common, onError: () => {} });
      let text = '';
      let failure: unknown;
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta') text += part.text;
        else if (part.type === 'error') failure = part.error;
      }
      if (failure !== undefined) throw failure;
      ctx.signal.throwIfAborted();
      output = text;
      usage = await result.totalUsage;
      finishReason = await result.finishReason;
      headers = (await result.response).headers;
    }
    feedback = { rateLimited: false, ...(headers ? { headers } : {}) };
    return {
      output,
      properties: { model: model.id, usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 }, finishReason },
    };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const failure = explain(error, model, endpoint, ctx.stepId);
    feedback = { rateLimited: failure.rateLimited, ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }) };
    throw failure;
  } finally {
    release(feedback);
  }
}

function limiterFor(endpoint: Endpoint, ctx: ActionContext): AdaptiveLimiter {
  const key = `llm:limiter ${endpoint.key}`;
  let limiter = ctx.runScope.get(key) as AdaptiveLimiter | undefined;
  if (!limiter) {
    const rpm = ctx.defaults.rateLimits[endpoint.provider]?.rpm;
    limiter = new AdaptiveLimiter({ maxConcurrency: ctx.defaults.maxConcurrency, ...(rpm ? { rpm } : {}) });
    ctx.runScope.set(key, limiter);
  }
  return limiter;
}

/** One provider client per endpoint and model for the whole run, not one per call. */
function modelFor(model: ModelRef, endpoint: Endpoint, ctx: ActionContext): Promise<LanguageModel> {
  const key = `llm:model ${endpoint.key} ${model.model}`;
  let created = ctx.runScope.get(key) as Promise<LanguageModel> | undefined;
  if (!created) ctx.runScope.set(key, (created = createModel(model, endpoint)));
  return created;
}

async function createModel(model: ModelRef, endpoint: Endpoint): Promise<LanguageModel> {
  switch (endpoint.provider) {
    case 'openai': {
      const { createOpenAI } = await import('@ai-sdk/openai');
      // Chat Completions, not the Responses API: every OpenAI-compatible server speaks it.
      return createOpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey ?? 'not-needed' }).chat(model.model);
    }
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic');
      return createAnthropic({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey ?? 'not-needed' })(model.model);
    }
    case 'ollama': {
      const { createOllama } = await import('ollama-ai-provider-v2');
      return createOllama({ baseURL: `${endpoint.baseURL}/api` })(model.model);
    }
  }
}

/** One line that says what went wrong and what to set; keys never appear (they are not in these texts). */
function explain(error: unknown, model: ModelRef, endpoint: Endpoint, stepId: string): StepFailedError {
  if (error instanceof ConductorError) return new StepFailedError(stepId, error.code, error.message, { ...(error.hint ? { hint: error.hint } : {}), cause: error });
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    if (status === undefined) {
      const { reason, retryable, hint } = networkFailure(error);
      return new StepFailedError(stepId, 'llm_unreachable', `${model.id}: cannot reach ${endpoint.baseURL} (${reason})`, {
        hint: `${hint ?? 'is the server running?'} (the endpoint comes from ${endpoint.urlVar})`,
        retryable,
        cause: error,
      });
    }
    const after = retryAfterMs(error.responseHeaders);
    const body = (error.responseBody ?? '').trim();
    const preview = body.length > 300 ? `${body.slice(0, 300)}…` : body;
    const hint = status === 401 || status === 403 ? `check ${endpoint.keyVar ?? 'the API key'}` : status === 404 ? `is \`${model.model}\` a model this endpoint serves?` : undefined;
    return new StepFailedError(stepId, status === 429 ? 'rate_limited' : 'llm_http', `${model.id}: HTTP ${status}${preview ? `: ${preview}` : ''}`, {
      retryable: status === 429 || status >= 500,
      rateLimited: status === 429,
      ...(after === undefined ? {} : { retryAfterMs: after }),
      ...(hint ? { hint } : {}),
      cause: error,
    });
  }
  const message = (error as Error)?.message ?? String(error);
  return new StepFailedError(stepId, 'llm_error', `${model.id}: ${message}`, { cause: error });
}
