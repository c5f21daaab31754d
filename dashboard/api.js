// Every request to /api goes through here: the token (when the server has one) travels only as an
// `Authorization` header, never in a URL, and lives in sessionStorage (gone when the tab closes).

const TOKEN_KEY = 'conductor.token';
const listeners = new Set();

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token lasts until the page reloads
  }
  memoryToken = token;
}

let memoryToken = '';
const token = () => getToken() || memoryToken;

/** Called with true when the server refused our token (or we have none), false once a request got through. */
export function onAuth(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const tellAuth = (needed) => listeners.forEach((l) => l(needed));

/** A refusal from the API: its status and the `{error, hint, problems}` body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.error === 'string' ? body.error : `the server answered ${status}`);
    this.status = status;
    this.hint = typeof body?.hint === 'string' ? body.hint : undefined;
    this.problems = Array.isArray(body?.problems) ? body.problems : undefined;
  }
}

export function headers(extra = {}) {
  const t = token();
  return { accept: 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
}

/** JSON from `path` (an /api URL); rejects with ApiError on a 4xx/5xx. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'the server cannot be reached', hint: 'is `conductor serve` still running?' });
  }
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.status === 401) tellAuth(true);
  else if (res.ok) tellAuth(false);
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}

/** The path of a workflow file as an /api URL segment: each of its parts encoded, its slashes kept. */
export const workflowUrl = (path) => `/api/workflows/${path.split('/').map(encodeURIComponent).join('/')}`;

/**
 * Reads a run's Server-Sent Events with fetch (EventSource cannot send a header) and calls `onEvent(type, data,
 * id)` for each. A dropped stream is read again from where it stopped (`Last-Event-ID`), after a pause that
 * grows; the stream ending after `run:end` ends it. Returns a function that stops it.
 */
export function followEvents(runId, { onEvent, onState }) {
  const control = new AbortController();
  let lastId;
  let pause = 500;
  let finished = false;

  (async () => {
    while (!control.signal.aborted && !finished) {
      try {
        const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/events`, {
          signal: control.signal,
          headers: headers({ accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'last-event-id': String(lastId) }) }),
        });
        if (res.status === 401) tellAuth(true);
        if (!res.ok || !res.body) {
          // A refusal will not change by asking again (an unknown run, no such endpoint): say so and stop.
          let body;
          try {
            body = await res.json();
          } catch {
            body = undefined;
          }
          onState?.({ state: 'refused', error: new ApiError(res.status, body) });
          return;
        }
        onState?.({ state: 'open' });
        let numbered = false;
        for await (const event of parseEvents(res.body)) {
          if (event.id !== undefined) {
            lastId = event.id;
            numbered = true;
            pause = 500;
          }
          let data;
          try {
            data = JSON.parse(event.data);
          } catch {
            continue;
          }
          onEvent(event.type, data, event.id);
          if (event.type === 'run:end') finished = true;
        }
        // Events without ids are the server's replay of a record (a run it does not hold, going on elsewhere):
        // reading it again would replay it all again, so its record is polled instead.
        if (!finished && !numbered) {
          onState?.({ state: 'refused' });
          return;
        }
      } catch (error) {
        if (control.signal.aborted) return;
        // A dropped connection: read again below.
      }
      if (finished || control.signal.aborted) break;
      onState?.({ state: 'reconnecting' });
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 5000);
    }
    if (finished) onState?.({ state: 'ended' });
  })();
  return () => control.abort();
}

/** The events of a text/event-stream body, as the HTML standard parses them (`data` lines joined with `\n`). */
export async function* parseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { type: 'message', data: [], id: undefined };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A `\r` that ends the chunk may be the first half of `\r\n`: wait for the next one.
      if (end === buffer.length - 1 && buffer[end] === '\r') break;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (event.data.length) yield { type: event.type, data: event.data.join('\n'), id: event.id };
        event = { type: 'message', data: [], id: event.id };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event.type = value;
      else if (field === 'data') event.data.push(value);
      else if (field === 'id' && !value.includes('\0')) event.id = value;
    }
  }
}
