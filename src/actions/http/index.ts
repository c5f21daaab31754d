/**
 * `http`: one request (see `client.ts` for the transport). The output is the parsed body when the response is
 * JSON, else its text; `statusCode` and `headers` are exposed too. A non-2xx response fails the step.
 */
import { z } from 'zod';
import { formatBytes } from '../../core/bytes.ts';
import { ConductorError, networkFailure, StepFailedError } from '../../core/errors.ts';
import { answerSecrets, requestSecrets, withoutCredentialHeaders } from './credentials.ts';
import { retryAfterMs } from '../../core/retry.ts';
import { templated } from '../templated.ts';
import { BadRedirectError, DEFAULT_MAX_BYTES, prepare, RedirectLoopError, ResponseTooLargeError, send, type HttpResponse } from './client.ts';
import type { ActionDefinition } from '../types.ts';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
/** A header name as HTTP defines it (a "token", RFC 9110): anything else is refused by the client at run time. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const schema = z.strictObject({
  method: z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }).optional().describe('The request method.').meta({ default: 'GET', examples: ['POST'] }),
  url: z
    .string({ error: 'expected a URL (a string)' })
    .describe('The URL, http or https. A host a step\'s output chooses must be in `config.http.allowHosts`.')
    .meta({ examples: ['https://api.example.com/items?page=${item}'] }),
  headers: z
    .record(z.string().regex(HEADER_NAME, 'not a header name (letters, digits and ! # $ % & \' * + - . ^ _ ` | ~ only)'), z.union([z.string(), z.number(), z.boolean()]), {
      error: 'expected a map of header names to values',
    })
    .optional()
    .describe('Request headers. Values from `${env.…}` are secrets: never shown or stored.')
    .meta({ examples: [{ authorization: 'Bearer ${env.API_TOKEN}' }] }),
  body: z.unknown().optional().describe('The request body: a string is sent as written; any other value as JSON (`content-type: application/json`).').meta({ examples: [{ query: '${inputs.q}' }] }),
  timeout: templated(z.number().positive('expected a number of seconds greater than 0'))
    .optional()
    .describe('Seconds the request may take, per attempt (as the step\'s `timeout`).')
    .meta({ examples: [30] }),
  maxBytes: templated(z.number().int('expected a whole number of bytes').positive('expected a number of bytes greater than 0'))
    .optional()
    .describe('The largest response body to accept, in bytes after decompression (default 10485760, 10 MB); a larger one fails the step.')
    .meta({ default: 10485760, examples: [1048576] }),
});

export interface HttpInput {
  method?: (typeof HTTP_METHODS)[number];
  url: string;
  headers?: Record<string, string | number | boolean>;
  body?: unknown;
  timeout?: number;
  maxBytes?: number;
}

/** Not retried although 5xx: the server says it cannot do this at all (not implemented, HTTP version refused). */
const PERMANENT_5XX = new Set([501, 505]);

/** How much of an error response body's first line goes into the failure message. */
const BODY_PREVIEW = 200;

export const httpAction: ActionDefinition<HttpInput> = {
  name: 'http',
  description: 'Call an HTTP API (output: parsed JSON or text; also statusCode and headers).',
  schema: schema as unknown as z.ZodType<HttpInput>,
  exposes: ['statusCode', 'headers'],
  version: 1,
  // A URL a step's output chooses is confined by the engine (scheduler/confine.ts): literal host, or allowHosts;
  // its redirects too (`ctx.confine`, below). So is a `Host` (or `X-Forwarded-Host`, `Forwarded`) header.
  destinations: { url: 'url', headers: 'headers' },
  prepare,
  defaultTimeoutSeconds: 60,
  // A call to an API: a few hundred ms.
  typicalMs: 300,
  runsOnWorkers: true,
  calls: [{ kind: 'http', noun: 'HTTP request' }],
  // A GET or HEAD only looks: with the cache on, the same request may take the answer kept from before. Other
  // methods change something, and are cached only when the step says `cache: true`.
  cacheable: (input) => ['GET', 'HEAD'].includes((input.method ?? 'GET').toUpperCase()),
  describe: (input) => `${input.method ?? 'GET'} ${input.url}`,
  // `Authorization: ${env.API_AUTH}`: whatever the variable is called, a header filled from the environment
  // is a credential, and so is the value of a credential header written into the workflow.
  secretKeys: ['headers'],
  secrets: requestSecrets,
  resultSecrets: (result) => answerSecrets(result.properties),
  withoutCredentials: withoutCredentialHeaders,
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
      response = await send({
        method,
        url,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: ctx.signal,
        maxBytes: input.maxBytes ?? DEFAULT_MAX_BYTES,
        redirecting: (to) => ctx.confine?.('url', to.href),
      });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (error instanceof ConductorError) throw error; // a redirect the engine refused (`not_allowed`)
      if (error instanceof ResponseTooLargeError) {
        throw new StepFailedError(ctx.stepId, 'response_too_large', `${what}: the response is larger than ${formatBytes(error.maxBytes)}; reading stopped there`, {
          hint: 'raise `maxBytes` on the http block (bytes, after decompression; default 10 MB), or ask the API for less',
          cause: error,
        });
      }
      if (error instanceof RedirectLoopError) {
        throw new StepFailedError(ctx.stepId, 'http_redirect_loop', `${what}: ${error.message}`, { hint: 'open the URL in a browser or with `curl -IL` to see where it leads', cause: error });
      }
      if (error instanceof BadRedirectError) {
        throw new StepFailedError(ctx.stepId, 'http_bad_redirect', `${what}: ${error.message}`, { hint: 'the server sent a `location` that cannot be followed: check the URL, or ask the API\'s owner', cause: error });
      }
      const { reason, retryable, hint } = networkFailure(error);
      throw new StepFailedError(ctx.stepId, 'http_network', `${what}: request failed (${reason})`, { retryable, ...(hint ? { hint } : {}), cause: error });
    }
    const { status, text } = response;
    if (status < 200 || status > 299) {
      const preview = firstLine(text);
      const after = retryAfterMs(response.headers);
      throw new StepFailedError(ctx.stepId, 'http_status', `${what} → HTTP ${status}${preview ? `: ${preview}` : ''}`, {
        retryable: status === 429 || (status >= 500 && !PERMANENT_5XX.has(status)),
        rateLimited: status === 429,
        ...(after === undefined ? {} : { retryAfterMs: after }),
        ...(text.trim() && text.trim() !== preview ? { detail: text } : {}),
      });
    }
    return { output: parseBody(text, response.headers['content-type']), properties: { statusCode: status, headers: response.headers } };
  },
};

/**
 * An error body in a message: its first non-empty line, cut short. A multi-line HTML page would otherwise
 * flood every retry line and the summary.
 */
function firstLine(text: string): string {
  const body = text.trim();
  const line = body.split(/\r?\n/, 1)[0]!.trim();
  const shown = line.length > BODY_PREVIEW ? line.slice(0, BODY_PREVIEW) : line;
  return shown.length < body.length ? `${shown}…` : shown;
}

/**
 * How deep a JSON answer may nest and still be parsed: no API answers deeper, and past a few thousand levels
 * nothing can walk it (redaction, the store, `--json` all recurse). A deeper one stays text.
 */
const MAX_JSON_DEPTH = 200;

function parseBody(text: string, contentType: string | undefined): unknown {
  if (contentType && /[/+]json\b/i.test(contentType) && text.trim() !== '') {
    if (jsonDepth(text) > MAX_JSON_DEPTH) return text;
    try {
      return JSON.parse(text);
    } catch {
      return text; // the server said JSON but sent something else: keep what it sent
    }
  }
  return text;
}

/** The deepest nesting of `[` and `{` in JSON text (outside strings), in one pass. */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) deepest = Math.max(deepest, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return deepest;
}
