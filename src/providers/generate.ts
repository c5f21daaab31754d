/**
 * Calls a real provider through the AI SDK. Loaded lazily by the `llm` action, so runs without llm steps (and
 * `--version`, `validate`) never load provider code. The SDK's own retries are off: retries, backoff and
 * rate limits are the engine's, so they follow the step's policy and never outlive the run.
 */
import { generateText, jsonSchema, NoObjectGeneratedError, Output, streamText, type LanguageModel, type ModelMessage } from 'ai';
import type { ActionContext, ActionResult, SharedGrant, SharedLimitSettings } from '../actions/types.ts';
import type { LlmInput } from '../actions/llm/index.ts';
import { ConductorError, StepFailedError } from '../core/errors.ts';
import type { TokenCount } from '../core/report.ts';
import { endpointFor, missingKey, type Endpoint } from './endpoint.ts';
import { explain } from './failure.ts';
import { answerCheck, type AnswerCheck } from './json-schema.ts';
import { AdaptiveLimiter, type CallFeedback } from './limiter.ts';
import type { ModelRef } from './model.ts';
import { promptTokens } from './tokens.ts';
import { providerFetch } from './transport.ts';

/** One call's answer: its text, and with a `schema` the parsed value (undefined when it was not JSON). */
interface Answer {
  text: string;
  parsed?: { value: unknown } | { error: string };
  usage: TokenCount & { cachedInputTokens?: number };
  finishReason: string;
  /** What the provider warned of (a setting the model ignores, say), as text. */
  warnings?: string[];
}

// The engine never prints: the SDK would write a provider's warnings to the console, in the middle of the live
// display. They are the step's `warnings` property instead (see `result`). A program using Conductor as a library
// that set its own logger keeps it.
globalThis.AI_SDK_LOG_WARNINGS ??= false;

type ProviderWarning = { type: string; feature?: string; setting?: string; details?: string; message?: string };

export async function generate(model: ModelRef, input: LlmInput, ctx: ActionContext): Promise<ActionResult> {
  if (model.provider === 'echo') throw new Error('echo is answered by the llm action itself');
  const endpoint = endpointFor(model.provider, ctx.env);
  const keyProblem = missingKey(endpoint);
  if (keyProblem) throw keyProblem;
  if (!input.schema) {
    const answer = await call(model, endpoint, input, [{ role: 'user', content: input.prompt }], ctx);
    return result(model, answer.text, [answer]);
  }
  return structured(model, endpoint, input, input.schema, ctx);
}

/**
 * A `schema` step: the answer is checked against the schema. A mismatch is given back to the model once, with
 * what was wrong; a second mismatch fails the step, naming the first offending path.
 */
async function structured(model: ModelRef, endpoint: Endpoint, input: LlmInput, schema: Record<string, unknown>, ctx: ActionContext): Promise<ActionResult> {
  let check: AnswerCheck;
  try {
    check = answerCheck(schema, ctx.runScope);
  } catch (error) {
    throw explain(error, model, endpoint, ctx.stepId);
  }
  const messages: ModelMessage[] = [{ role: 'user', content: input.prompt }];
  const first = await call(model, endpoint, input, messages, ctx, schema);
  const firstProblem = mismatch(first, check);
  if (firstProblem === undefined) return result(model, (first.parsed as { value: unknown }).value, [first]);
  messages.push(
    { role: 'assistant', content: first.text },
    { role: 'user', content: `Your ${firstProblem}. Answer again with only the corrected JSON.` },
  );
  const second = await call(model, endpoint, input, messages, ctx, schema);
  const secondProblem = mismatch(second, check);
  if (secondProblem === undefined) return result(model, (second.parsed as { value: unknown }).value, [first, second]);
  throw new StepFailedError(ctx.stepId, 'schema_mismatch', `${model.id}: the ${secondProblem} (also when asked again with the error)`, {
    hint: 'say in the prompt what each field must hold, or loosen the step’s `schema`',
    detail: second.text,
    // Both answers were paid for.
    usage: result(model, undefined, [first, second]).usage!,
  });
}

/** What is wrong with an answer ("answer does not match …"), as the model is told it; undefined when nothing is. */
function mismatch(answer: Answer, check: AnswerCheck): string | undefined {
  const parsed = answer.parsed;
  if (!parsed || 'error' in parsed) return `answer is not JSON (${parsed && 'error' in parsed ? parsed.error : 'empty'})`;
  const problem = check(parsed.value);
  return problem === undefined ? undefined : `answer does not match the JSON Schema: ${problem}`;
}

function result(model: ModelRef, output: unknown, answers: readonly Answer[]): ActionResult {
  const usage = answers.reduce((sum, a) => ({ inputTokens: sum.inputTokens + a.usage.inputTokens, outputTokens: sum.outputTokens + a.usage.outputTokens }), { inputTokens: 0, outputTokens: 0 });
  const cached = answers.reduce((sum, a) => sum + (a.usage.cachedInputTokens ?? 0), 0);
  const warnings = [...new Set(answers.flatMap((a) => a.warnings ?? []))];
  const properties = { model: model.id, usage, finishReason: answers.at(-1)!.finishReason, ...(warnings.length ? { warnings } : {}) };
  return { output, properties, usage: { model: model.id, ...usage, ...(cached ? { cachedInputTokens: cached } : {}) } };
}

/** One request to the provider, through its limiter: it waits its turn, and tells the limiter how it went. */
async function call(model: ModelRef, endpoint: Endpoint, input: LlmInput, messages: ModelMessage[], ctx: ActionContext, schema?: Record<string, unknown>): Promise<Answer> {
  const limiter = limiterFor(endpoint, ctx);
  // What it spends against a tokens-per-minute limit: every message sent (a corrected answer's second call
  // holds the first answer too), the system prompt and the schema, and maxTokens.
  const texts = [input.system, ...messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))), schema && JSON.stringify(schema)];
  const estimate = { input: promptTokens(texts), ...(input.maxTokens === undefined ? {} : { maxOutput: input.maxTokens }) };
  const notice = (reason: string, untilMs: number) => ctx.notify({ type: 'waiting', reason, untilMs });
  // Time queued behind the provider's limits is not the step's running time: its timeout does not count it.
  const release =
    limiter.tryAcquire(ctx.signal, estimate) ??
    (await ctx.untimed(limiter.acquire(ctx.signal, { notice, tokens: estimate })).catch((error: unknown) => {
      throw ctx.signal.aborted ? error : refused(error, model, ctx.stepId);
    }));
  let feedback: CallFeedback = { rateLimited: false };
  let shared: SharedGrant | undefined;
  try {
    // Then the limits every process calling this endpoint shares (workers of a queue), when there are.
    if (ctx.sharedLimits) shared = await ctx.untimed(ctx.sharedLimits.acquire(endpoint.key, sharedSettings(endpoint, ctx), estimate.input + (estimate.maxOutput ?? 0), ctx.signal, notice));
    const provider = await modelFor(model, endpoint, ctx);
    let answer: Answer;
    let headers: Record<string, string> | undefined;
    // What generateText and streamText are given (a plain call goes without them, see `plain`).
    const common = () => ({
      model: provider,
      messages,
      ...(input.system === undefined ? {} : { instructions: input.system }),
      ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
      ...(input.maxTokens === undefined ? {} : { maxOutputTokens: input.maxTokens }),
      abortSignal: ctx.signal,
      maxRetries: 0,
      // The engine reports every call through its own events. The SDK's telemetry (tracing-channel spans,
      // events copied for integrations) cost ~10 % of a call's CPU with nothing listening.
      telemetry: { isEnabled: false },
    });
    if (!schema && !input.stream) {
      ({ answer, headers } = await plain(provider, input, messages, ctx.signal));
    } else if (schema) {
      try {
        // Asks for structured output (the provider's JSON mode); the answer is checked here, not by the SDK.
        const output = Output.object({ schema: jsonSchema(schema as Parameters<typeof jsonSchema>[0]) });
        const r = await generateText({ ...common(), output });
        answer = { text: r.text || JSON.stringify(r.output), parsed: { value: r.output }, usage: tokens(r.usage), finishReason: r.finishReason, ...withWarnings(r.warnings) };
        headers = r.response.headers;
      } catch (error) {
        // Not JSON: an answer all the same, which the model gets a chance to correct.
        if (!NoObjectGeneratedError.isInstance(error)) throw error;
        const why = ((error.cause as Error | undefined)?.message ?? error.message).split('\n')[0]!;
        answer = { text: error.text ?? '', parsed: { error: why }, usage: tokens(error.usage), finishReason: error.finishReason ?? 'unknown' };
        headers = error.response?.headers;
      }
    } else {
      // Streaming: the answer arrives as it is written; a cancelled run closes the connection mid-answer.
      // Errors arrive as stream parts and are handled below; the SDK's default would print them.
      const r = streamText({ ...common(), onError: () => {} });
      let text = '';
      let failure: unknown;
      for await (const part of r.fullStream) {
        if (part.type === 'text-delta') text += part.text;
        else if (part.type === 'error') failure = part.error;
      }
      if (failure !== undefined) throw failure;
      ctx.signal.throwIfAborted();
      answer = { text, usage: tokens(await r.totalUsage), finishReason: await r.finishReason, ...withWarnings(await r.warnings) };
      headers = (await r.response).headers;
    }
    feedback = { rateLimited: false, usage: answer.usage, ...(headers ? { headers } : {}) };
    return answer;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const failure = explain(error, model, endpoint, ctx.stepId);
    feedback = { rateLimited: failure.rateLimited, ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }) };
    throw failure;
  } finally {
    release(feedback);
    shared?.done(feedback);
  }
}

/** The limits `config.rateLimits` states for an endpoint's provider, as the shared limits take them. */
function sharedSettings(endpoint: Endpoint, ctx: ActionContext): SharedLimitSettings {
  const { rpm, tpm } = ctx.defaults.rateLimits[endpoint.provider] ?? {};
  const minuteMs = testMinute(ctx.env);
  return { ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}), ...(minuteMs ? { minuteMs } : {}) };
}

/** The model as every provider package builds it: the AI SDK's language-model interface (its current version). */
type ProviderModel = Extract<LanguageModel, { specificationVersion: 'v4' }>;
type Prompt = Parameters<ProviderModel['doGenerate']>[0]['prompt'];

/**
 * A plain answer (no `schema`, no stream): one request through the provider model's own `doGenerate` — the
 * interface each provider package implements, which builds the request, sends it and reads the answer (errors
 * are its `APICallError`s, as through `generateText`). `generateText` around it adds a step loop, tools, output
 * parsing, message cloning and events: none of which a one-message call uses, and about half its CPU.
 */
async function plain(model: ProviderModel, input: LlmInput, messages: ModelMessage[], signal: AbortSignal): Promise<{ answer: Answer; headers: Record<string, string> | undefined }> {
  const prompt: Prompt = input.system === undefined ? [] : [{ role: 'system', content: input.system }];
  for (const m of messages) prompt.push({ role: m.role as 'user', content: [{ type: 'text', text: m.content as string }] });
  const r = await model.doGenerate({
    prompt,
    ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
    ...(input.maxTokens === undefined ? {} : { maxOutputTokens: input.maxTokens }),
    abortSignal: signal,
  });
  let text = '';
  for (const part of r.content) if (part.type === 'text') text += part.text;
  const usage = { inputTokens: r.usage.inputTokens.total, outputTokens: r.usage.outputTokens.total, inputTokenDetails: { cacheReadTokens: r.usage.inputTokens.cacheRead } };
  return { answer: { text, usage: tokens(usage), finishReason: r.finishReason.unified, ...withWarnings(r.warnings) }, headers: r.response?.headers };
}

/** A provider's warnings as one line each ("temperature is not supported by this model: …"), when it gave any. */
function withWarnings(warnings: readonly ProviderWarning[] | undefined): { warnings?: string[] } {
  if (!warnings?.length) return {};
  const detail = (w: ProviderWarning) => (w.details ? `: ${w.details}` : '');
  return {
    warnings: warnings.map((w) => {
      const what = w.feature ?? w.setting;
      if (w.type === 'unsupported') return `${what} is not supported by this model${detail(w)}`;
      if (w.type === 'compatibility') return `${what} is used in a compatibility mode${detail(w)}`;
      return w.message ?? what ?? w.type;
    }),
  };
}

function tokens(usage: { inputTokens?: number | undefined; outputTokens?: number | undefined; inputTokenDetails?: { cacheReadTokens?: number | undefined } } | undefined): Answer['usage'] {
  // Of the input, what the provider read from its prompt cache (priced lower where it says so).
  // A count that is not a whole number of tokens (negative, NaN) is a provider's mistake: it never makes room.
  const count = (n: number | undefined) => (n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
  const cached = count(usage?.inputTokenDetails?.cacheReadTokens);
  return { inputTokens: count(usage?.inputTokens), outputTokens: count(usage?.outputTokens), ...(cached ? { cachedInputTokens: cached } : {}) };
}

/** The limiter refused the call before it was sent (a provider pause too long, a call too large for `tpm`). */
function refused(error: unknown, model: ModelRef, stepId: string): unknown {
  if (!(error instanceof ConductorError)) return error;
  return new StepFailedError(stepId, error.code, `${model.id}: ${error.message}`, { ...(error.hint ? { hint: error.hint } : {}), cause: error });
}

function limiterFor(endpoint: Endpoint, ctx: ActionContext): AdaptiveLimiter {
  const key = `llm:limiter ${endpoint.key}`;
  let limiter = ctx.runScope.get(key) as AdaptiveLimiter | undefined;
  if (!limiter) {
    const { rpm, tpm } = ctx.defaults.rateLimits[endpoint.provider] ?? {};
    const minuteMs = testMinute(ctx.env);
    limiter = new AdaptiveLimiter({
      maxConcurrency: ctx.defaults.maxConcurrency,
      source: `config.rateLimits.${endpoint.provider}`,
      ...(rpm ? { rpm } : {}),
      ...(tpm ? { tpm } : {}),
      ...(minuteMs ? { minuteMs } : {}),
    });
    ctx.runScope.set(key, limiter);
  }
  return limiter;
}

/**
 * For tests only, not a setting: `CONDUCTOR_RATE_WINDOW_MS` shortens the minute of `rpm` and `tpm`, so a test
 * can exceed a limit many times over in seconds against a stand-in that meters the same short minute.
 */
function testMinute(env: ActionContext['env']): number | undefined {
  const ms = Number(env['CONDUCTOR_RATE_WINDOW_MS']);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** One provider client per endpoint and model for the whole run, not one per call. */
function modelFor(model: ModelRef, endpoint: Endpoint, ctx: ActionContext): Promise<ProviderModel> {
  const key = `llm:model ${endpoint.key} ${model.model}`;
  let created = ctx.runScope.get(key) as Promise<ProviderModel> | undefined;
  if (!created) ctx.runScope.set(key, (created = createModel(model, endpoint)));
  return created;
}

const SDKS = {
  openai: () => import('@ai-sdk/openai'),
  anthropic: () => import('@ai-sdk/anthropic'),
  ollama: () => import('ollama-ai-provider-v2'),
};
type Sdks = { [P in keyof typeof SDKS]: Awaited<ReturnType<(typeof SDKS)[P]>> };
const loaded = new Map<keyof typeof SDKS, Promise<unknown>>();

function sdk<P extends keyof typeof SDKS>(provider: P): Promise<Sdks[P]> {
  let module = loaded.get(provider);
  if (!module) loaded.set(provider, (module = SDKS[provider]()));
  return module as Promise<Sdks[P]>;
}

/**
 * Loads every provider SDK, so the first call of a run pays for none (the `llm` action's `prepare`). All three
 * together cost about a tenth of what `ai` itself does, and which ones a run needs is not known here.
 */
export async function preload(): Promise<void> {
  await Promise.all((Object.keys(SDKS) as (keyof typeof SDKS)[]).map((p) => sdk(p)));
}

async function createModel(model: ModelRef, endpoint: Endpoint): Promise<ProviderModel> {
  // undici's `request` under the SDK, not Node's `fetch`, and every answer read through a byte cap (transport.ts).
  const fetch = providerFetch();
  switch (endpoint.provider) {
    case 'openai': {
      const { createOpenAI } = await sdk('openai');
      // Chat Completions, not the Responses API: every OpenAI-compatible server speaks it.
      return createOpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey ?? 'not-needed', fetch }).chat(model.model);
    }
    case 'anthropic': {
      const { createAnthropic } = await sdk('anthropic');
      return createAnthropic({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey ?? 'not-needed', fetch })(model.model);
    }
    case 'ollama': {
      const { createOllama } = await sdk('ollama');
      return createOllama({ baseURL: `${endpoint.baseURL}/api`, fetch })(model.model);
    }
  }
}
