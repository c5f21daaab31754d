/**
 * Stand-ins for the providers, speaking their real wire protocols on 127.0.0.1: OpenAI Chat Completions,
 * Anthropic Messages and Ollama chat, each streaming (SSE / NDJSON) or not, as the client asks. They answer
 * with `answer(request)` (by default: "<provider>: <last user message>") and record every request.
 */
import type { ServerResponse } from 'node:http';
import { reply, StandIn, type RecordedRequest } from './stand-in.ts';

export interface ChatRequest {
  provider: 'openai' | 'anthropic' | 'ollama';
  model: string;
  system: string | undefined;
  prompt: string;
  stream: boolean;
  body: Record<string, any>;
  record: RecordedRequest;
}

export interface LlmStandInOptions {
  answer?: (request: ChatRequest) => string;
  /** Called before answering; may write its own response (a 429, say) and return true to stop there. */
  intercept?: (request: ChatRequest, res: ServerResponse) => boolean | Promise<boolean>;
  /** Called after the first streamed chunk, before the rest: a test can hold the stream open here. */
  midStream?: (request: ChatRequest) => Promise<void>;
  /** Extra response headers for a successful answer (rate-limit headers, say). */
  headers?: (request: ChatRequest) => Record<string, string> | undefined;
  /** The tokens an answer reports using (default: the words of the prompt and of the answer). */
  usage?: (request: ChatRequest, text: string) => { inputTokens: number; outputTokens: number; cachedInputTokens?: number };
  /** A tokens-per-minute limit the stand-in enforces (after `intercept`), as the providers do. */
  meter?: TokenMeter;
}

/**
 * Tokens per minute as OpenAI and Anthropic meter them: a bucket per model holding `perMinute` tokens, refilled
 * continuously over `minuteMs`. A request is counted whole when it arrives (its prompt and answer, as its
 * usage reports them); one that needs more than is left gets a 429 with `retry-after-ms` saying when it will
 * be there, and an answer tells what is left in the provider's rate-limit headers. A test may shorten the
 * minute (`CONDUCTOR_RATE_WINDOW_MS` does the same for the engine).
 */
export class TokenMeter {
  served = 0;
  refused = 0;
  /** Tokens of the requests served. */
  tokens = 0;
  readonly perMinute: number;
  readonly minuteMs: number;
  readonly #buckets = new Map<string, { level: number; at: number }>();

  constructor(perMinute: number, minuteMs = 60_000) {
    this.perMinute = perMinute;
    this.minuteMs = minuteMs;
  }

  take(model: string, tokens: number): { remaining: number; fullInMs: number } | { retryAfterMs: number } {
    const now = performance.now();
    const perMs = this.perMinute / this.minuteMs;
    const bucket = this.#buckets.get(model) ?? { level: this.perMinute, at: now };
    bucket.level = Math.min(this.perMinute, bucket.level + (now - bucket.at) * perMs);
    bucket.at = now;
    this.#buckets.set(model, bucket);
    if (tokens > bucket.level) {
      this.refused++;
      return { retryAfterMs: Math.ceil((tokens - bucket.level) / perMs) };
    }
    bucket.level -= tokens;
    this.served++;
    this.tokens += tokens;
    return { remaining: Math.floor(bucket.level), fullInMs: Math.ceil((this.perMinute - bucket.level) / perMs) };
  }
}

export function addLlmRoutes(server: StandIn, options: LlmStandInOptions = {}): StandIn {
  const answer = options.answer ?? ((r) => `${r.provider}: ${r.prompt}`);
  const metered = new WeakMap<ChatRequest, Record<string, string>>();
  const extra = (r: ChatRequest) => ({ ...(options.headers?.(r) ?? {}), ...metered.get(r) });
  const handle = (provider: ChatRequest['provider'], respond: (r: ChatRequest, text: string, res: ServerResponse) => Promise<void>) => async (record: RecordedRequest, res: ServerResponse) => {
    const body = JSON.parse(record.body) as Record<string, any>;
    const request = parseChat(provider, body, record);
    if (options.intercept && (await options.intercept(request, res))) return;
    const text = answer(request);
    if (options.meter) {
      const used = counted(request, text);
      const taken = options.meter.take(request.model, used.inputTokens + used.outputTokens);
      if ('retryAfterMs' in taken) {
        const message = `Rate limit reached for ${request.model} on tokens per min (TPM): Limit ${options.meter.perMinute}`;
        const error = provider === 'anthropic' ? { type: 'error', error: { type: 'rate_limit_error', message } } : { error: { message, type: 'tokens', code: 'rate_limit_exceeded' } };
        reply(res, 429, error, { 'retry-after-ms': String(taken.retryAfterMs) });
        return;
      }
      const limit = String(options.meter.perMinute);
      const remaining = String(taken.remaining);
      metered.set(
        request,
        provider === 'anthropic'
          ? { 'anthropic-ratelimit-tokens-limit': limit, 'anthropic-ratelimit-tokens-remaining': remaining, 'anthropic-ratelimit-tokens-reset': new Date(Date.now() + taken.fullInMs).toISOString() }
          : { 'x-ratelimit-limit-tokens': limit, 'x-ratelimit-remaining-tokens': remaining, 'x-ratelimit-reset-tokens': `${taken.fullInMs}ms` },
      );
    }
    await respond(request, text, res);
  };
  const chunks = (text: string) => text.match(/.{1,8}/gs) ?? [''];
  const counted = (r: ChatRequest, text: string) => options.usage?.(r, text) ?? { inputTokens: tokens(r.prompt), outputTokens: tokens(text) };

  server.route('/v1/chat/completions', handle('openai', async (r, text, res) => {
    const { inputTokens, outputTokens, cachedInputTokens } = counted(r, text) as { inputTokens: number; outputTokens: number; cachedInputTokens?: number };
    const usage = { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens, ...(cachedInputTokens ? { prompt_tokens_details: { cached_tokens: cachedInputTokens } } : {}) };
    if (!r.stream) {
      reply(res, 200, { id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: r.model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage }, extra(r));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', ...extra(r) });
    const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: r.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const parts = chunks(text);
    res.write(chunk({ role: 'assistant', content: parts[0] }, null));
    await options.midStream?.(r);
    for (const part of parts.slice(1)) res.write(chunk({ content: part }, null));
    res.write(chunk({}, 'stop'));
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: r.model, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }));

  server.route('/v1/messages', handle('anthropic', async (r, text, res) => {
    const { inputTokens, outputTokens } = counted(r, text);
    const usage = { input_tokens: inputTokens, output_tokens: outputTokens };
    if (!r.stream) {
      reply(res, 200, { id: 'msg_1', type: 'message', role: 'assistant', model: r.model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage }, extra(r));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', ...extra(r) });
    const event = (name: string, data: object) => res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);
    event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: r.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input_tokens, output_tokens: 0 } } });
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    const parts = chunks(text);
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: parts[0] } });
    await options.midStream?.(r);
    for (const part of parts.slice(1)) event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: part } });
    event('content_block_stop', { index: 0 });
    event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
    event('message_stop', {});
    res.end();
  }));

  server.route('/api/chat', handle('ollama', async (r, text, res) => {
    const { inputTokens, outputTokens } = counted(r, text);
    const done = { done: true, done_reason: 'stop', prompt_eval_count: inputTokens, eval_count: outputTokens, total_duration: 1, load_duration: 0, prompt_eval_duration: 0, eval_duration: 1 };
    const created_at = '2026-01-01T00:00:00Z';
    if (!r.stream) {
      reply(res, 200, { model: r.model, created_at, message: { role: 'assistant', content: text }, ...done }, extra(r));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', ...extra(r) });
    const parts = chunks(text);
    res.write(JSON.stringify({ model: r.model, created_at, message: { role: 'assistant', content: parts[0] }, done: false }) + '\n');
    await options.midStream?.(r);
    for (const part of parts.slice(1)) res.write(JSON.stringify({ model: r.model, created_at, message: { role: 'assistant', content: part }, done: false }) + '\n');
    res.end(JSON.stringify({ model: r.model, created_at, message: { role: 'assistant', content: '' }, ...done }) + '\n');
  }));
  return server;
}

/** The stand-ins' tokenizer: a word is a token. */
const tokens = (text: string) => text.split(/\s+/).filter(Boolean).length;

function parseChat(provider: ChatRequest['provider'], body: Record<string, any>, record: RecordedRequest): ChatRequest {
  const messages = (body['messages'] ?? []) as { role: string; content: unknown }[];
  const text = (content: unknown): string =>
    typeof content === 'string' ? content : Array.isArray(content) ? content.map((c: { text?: string }) => c.text ?? '').join('') : '';
  const system = provider === 'anthropic' ? (body['system'] === undefined ? undefined : text(body['system'])) : messages.filter((m) => m.role === 'system').map((m) => text(m.content)).join('\n') || undefined;
  const user = messages.filter((m) => m.role === 'user').at(-1);
  return { provider, model: String(body['model']), system, prompt: text(user?.content), stream: body['stream'] === true, body, record };
}

/**
 * An OpenAI answer whose connection drops partway: a stream after its first chunk, a whole response after half
 * its promised body. The client sees status 200, then a socket that closes.
 */
export function cutAnswer(res: ServerResponse, stream: boolean): void {
  // The connection closes once the part written has been handed to the socket.
  const cut = () => res.destroy();
  if (stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'The beginning of' }, finish_reason: null }] })}\n\n`, cut);
  } else {
    const body = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'a whole answer' }, finish_reason: 'stop' }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.write(body.slice(0, body.length >> 1), cut);
  }
}

/**
 * A 200 whose body goes on for `total` bytes, generated as it is sent (never held whole), with no length
 * announced. Resolves with the bytes written by the time the client stopped reading or the end was reached.
 */
export async function endlessAnswer(res: ServerResponse, total: number): Promise<number> {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let written = 0;
  res.write('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
  while (written < total && !res.destroyed) {
    written += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => (res.off('drain', done), res.off('close', done), resolve());
        res.on('drain', done).on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end('"},"finish_reason":"stop"}]}');
  return written;
}
