/**
 * Why a provider call failed, as one line that says what to do, and whether trying again can help. Keys never
 * appear (they are in none of these texts); an error page's whole body stays in the error's `detail`.
 */
import { APICallError } from 'ai';
import { ConductorError, networkFailure, StepFailedError } from '../core/errors.ts';
import { retryAfterMs } from '../core/retry.ts';
import { AnswerTooLargeError } from './answer-cap.ts';
import { publicURL, type Endpoint } from './endpoint.ts';
import type { ModelRef } from './model.ts';

/** Statuses that say the server cannot do this at all, whatever the moment: 501 Not Implemented, 505 HTTP Version. */
const PERMANENT_5XX = new Set([501, 505]);

export function explain(error: unknown, model: ModelRef, endpoint: Endpoint, stepId: string): StepFailedError {
  if (error instanceof ConductorError) {
    return new StepFailedError(stepId, error.code, error.message, { ...(error.hint ? { hint: error.hint } : {}), ...(error.detail ? { detail: error.detail } : {}), cause: error });
  }
  const tooLarge = inChain(error, (e): e is AnswerTooLargeError => e instanceof AnswerTooLargeError);
  if (tooLarge) {
    return new StepFailedError(stepId, 'response_too_large', `${model.id}: ${tooLarge.message}; stopped reading it`, {
      hint: `no model answer is that large: is ${endpoint.urlVar} pointing at a model server?`,
      cause: error,
    });
  }
  const status = APICallError.isInstance(error) ? error.statusCode : undefined;
  // The answer had begun (a status, or a stream) when the connection went: a network failure, not the answer.
  const dropped = droppedConnection(error);
  if (dropped && (status === undefined || status < 300)) {
    return new StepFailedError(stepId, 'llm_unreachable', `${model.id}: the connection to ${publicURL(endpoint.baseURL)} dropped mid-answer (${dropped})`, {
      hint: 'retried; if it keeps happening, something between here and the server cuts long answers',
      retryable: true,
      cause: error,
    });
  }
  if (APICallError.isInstance(error)) {
    if (status === undefined) {
      const { reason, retryable, hint } = networkFailure(error);
      return new StepFailedError(stepId, 'llm_unreachable', `${model.id}: cannot reach ${publicURL(endpoint.baseURL)} (${reason})`, {
        hint: `${hint ?? 'is the server running?'} (the endpoint comes from ${endpoint.urlVar})`,
        retryable,
        cause: error,
      });
    }
    if (status < 300) {
      const why = firstLine(((error.cause as Error | undefined)?.message ?? error.message) || 'unreadable');
      return new StepFailedError(stepId, 'llm_error', `${model.id}: the answer could not be read (${why})`, { cause: error });
    }
    const after = retryAfterMs(error.responseHeaders);
    const body = error.responseBody ?? '';
    const preview = firstLine(body);
    const hint = status === 401 || status === 403 ? `check ${endpoint.keyVar ?? 'the API key'}` : status === 404 ? `is \`${model.model}\` a model this endpoint serves?` : status < 400 ? redirectHint(error.responseHeaders, endpoint.urlVar) : undefined;
    return new StepFailedError(stepId, status === 429 ? 'rate_limited' : 'llm_http', `${model.id}: HTTP ${status}${preview ? `: ${preview}` : ''}`, {
      retryable: status === 429 || (status >= 500 && !PERMANENT_5XX.has(status)),
      rateLimited: status === 429,
      ...(after === undefined ? {} : { retryAfterMs: after }),
      ...(hint ? { hint } : {}),
      ...(body.trim() ? { detail: body } : {}),
      cause: error,
    });
  }
  return new StepFailedError(stepId, 'llm_error', `${model.id}: ${firstLine((error as Error)?.message ?? String(error))}`, { cause: error });
}

/**
 * One line of a body for a message: an HTML page's title (its first line is `<!DOCTYPE html>`), else the
 * first line with text, cut to `max` characters. A multi-line page would flood every retry line and summary.
 */
export function firstLine(text: string, max = 200): string {
  const title = /^\s*</.test(text) ? /<title[^>]*>([^<]*)<\/title>|<h1[^>]*>([^<]*)<\/h1>/i.exec(text) : null;
  const picked = (title ? (title[1] ?? title[2] ?? '') : text.split(/\r?\n/).find((line) => line.trim()) ?? '').replace(/\s+/g, ' ').trim();
  return picked.length > max ? `${picked.slice(0, max - 1)}…` : picked;
}

/**
 * Codes (and undici's "terminated") that mean the connection went away under a request. An answer cut short
 * is one of these, never a status the server sent.
 */
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE']);

export function droppedConnection(error: unknown): string | undefined {
  const code = inChain(error, (e): e is Error & { code: string } => DROPPED.has((e as { code?: unknown }).code as string));
  if (code) return code.code;
  const terminated = inChain(error, (e): e is Error => e instanceof TypeError && e.message === 'terminated');
  return terminated ? 'terminated' : undefined;
}

function inChain<T>(error: unknown, test: (e: unknown) => e is T): T | undefined {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (test(e)) return e;
  }
  return undefined;
}

/** Provider calls do not follow redirects (no provider API redirects a POST): say where the server points. */
function redirectHint(headers: Record<string, string> | undefined, urlVar: string): string {
  const location = headers?.['location'];
  return location ? `the server redirects to ${publicURL(location)}: point ${urlVar} at its new address` : `the server answered with a redirect: check ${urlVar}`;
}
