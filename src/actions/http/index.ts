/**
 * `http`: one request (see `client.ts` for the transport). The output is the parsed body when the response is
 * JSON, else its text; `statusCode` and `headers` are exposed too. A non-2xx response fails the step.
 */
import { z } from 'zod';
import { networkFailure, StepFailedError } from '../../core/errors.ts';
import { retryAfterMs } from '../../core/retry.ts';
import { templated } from '../templated.ts';
import { send, type HttpResponse } from './client.ts';
import type { ActionDefinition } from '../types.ts';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
/** A header name as HTTP defines it (a "token", RFC 9110): anything else is refused by the client at run time. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const schema = z.strictObject({
  method: z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }).optional(),
  url: z.string({ error: 'expected a URL (a string)' }),
  headers: z
    .record(z.string().regex(HEADER_NAME, 'not a header name (letters, digits and ! # $ % & \' * + - . ^ _ ` | ~ only)'), z.union([z.string(), z.number(), z.boolean()]), {
      error: 'expected a map of header names to values',
    })
    .optional(),
  body: z.unknown().optional(),
  timeout: templated(z.number().positive('expected a number of seconds greater than 0')).optional(),
});

export interface HttpInput {
  method?: (typeof HTTP_METHODS)[number];
  url: string;
  headers?: Record<string, string | number | boolean>;
  body?: unknown;
  timeout?: number;
}

/** How much of an error response body goes into the failure message. */
const BODY_PREVIEW = 300;

export const httpAction: ActionDefinition<HttpInput> = {
  name: 'http',
  description: 'Call an HTTP API (output: parsed JSON or text; also statusCode and headers).',
  schema: schema as unknown as z.ZodType<HttpInput>,
  exposes: ['statusCode', 'headers'],
  // A URL a step's output chooses is confined by the engine (scheduler/confine.ts): literal host, or allowHosts.
  destinations: { url: 'url' },
  defaultTimeoutSeconds: 60,
  // A call to an API: a few hundred ms.
  typicalMs: 300,
  describe: (input) => `${input.method ?? 'GET'} ${input.url}`,
  async run(input, ctx) {
    const method = input.method ?? 'GET';
    const what = `${method} ${input.url}`;
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new StepFailedError(ctx.stepId, 'http_bad_url', `${what}: not a valid URL`, { hint: 'URLs need a scheme, e.g. https://' });
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = String(value);
    let body: string | undefined;
    if (input.body !== undefined && input.body !== null) {
      if (typeof input.body === 'string') body = input.body;
      else {
        body = JSON.stringify(input.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    let response: HttpResponse;
    try {
      response = await send({ method, url, headers, ...(body === undefined ? {} : { body }), signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const { reason, retryable, hint } = networkFailure(error);
      throw new StepFailedError(ctx.stepId, 'http_network', `${what}: request failed (${reason})`, { retryable, ...(hint ? { hint } : {}), cause: error });
    }
    const { status, text } = response;
    if (status < 200 || status > 299) {
      const preview = text.length > BODY_PREVIEW ? `${text.slice(0, BODY_PREVIEW)}…` : text;
      const after = retryAfterMs(response.headers);
      throw new StepFailedError(ctx.stepId, 'http_status', `${what} → HTTP ${status}${preview ? `: ${preview.trim()}` : ''}`, {
        retryable: status === 429 || status >= 500,
        rateLimited: status === 429,
        ...(after === undefined ? {} : { retryAfterMs: after }),
      });
    }
    return { output: parseBody(text, response.headers['content-type']), properties: { statusCode: status, headers: response.headers } };
  },
};

function parseBody(text: string, contentType: string | undefined): unknown {
  if (contentType && /[/+]json\b/i.test(contentType) && text.trim() !== '') {
    try {
      return JSON.parse(text);
    } catch {
      return text; // the server said JSON but sent something else: keep what it sent
    }
  }
  return text;
}
