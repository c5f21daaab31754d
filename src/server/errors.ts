/** A refusal the server answers with: its HTTP status and the `{ error, hint }` body, never a stack. */
export class HttpError extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 503;
  readonly hint: string | undefined;
  /** Extra fields of the body (`problems` for an invalid workflow). */
  readonly extra: Record<string, unknown>;

  constructor(status: HttpError['status'], message: string, options: { hint?: string; extra?: Record<string, unknown> } = {}) {
    super(message);
    this.status = status;
    this.hint = options.hint;
    this.extra = options.extra ?? {};
  }
}
