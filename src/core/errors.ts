/**
 * Typed, coded, located errors. Every failure a user can cause or meet carries a stable `code`,
 * a message that says what was expected, and (where one helps) a hint. The CLI prints these without a
 * stack trace; only `--debug` shows the stack and the `cause` chain.
 */

/** A position in a workflow file: 1-based line and column. */
import type { UnitUsage } from './report.ts';

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/**
 * One problem found in a workflow: the shape `conductor validate --json` prints. Line and column are 1-based;
 * both are 0 for a problem with the file as a whole (not found, unreadable) or with a run's inputs.
 */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  code: string;
  message: string;
  hint?: string;
  /**
   * Absent means `error`. A `warning` (text that looks like a template but is not one, say) never makes a
   * workflow invalid: `validate`, `plan` and `run` show it and go on.
   */
  severity?: 'error' | 'warning';
}

export interface ConductorErrorOptions {
  hint?: string;
  /** Whether trying the same thing again could succeed (a 503 can; a 404 cannot). */
  retryable?: boolean;
  /** The server said when to try again (Retry-After), in milliseconds from now. */
  retryAfterMs?: number;
  /** The failure was a rate limit (HTTP 429): retried patiently, and it slows the provider's concurrency. */
  rateLimited?: boolean;
  /**
   * The whole text the one-line message was cut from (an error page's body, a model's last answer): kept
   * in `--json` and the run store, redacted like everything else; messages stay one line.
   */
  detail?: string;
  /** Model tokens the failed work used all the same (two answers that did not match a schema): paid for. */
  usage?: UnitUsage;
  cause?: unknown;
}

export class ConductorError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly rateLimited: boolean;
  readonly detail: string | undefined;
  readonly usage: UnitUsage | undefined;

  constructor(code: string, message: string, options: ConductorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConductorError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.rateLimited = options.rateLimited ?? false;
    this.detail = options.detail;
    this.usage = options.usage;
  }
}

/** The workflow (or its inputs) is wrong: nothing ran. Holds every problem found, not just the first. */
export class WorkflowInvalidError extends ConductorError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    // Warnings may be listed among the problems (in file order); the summary names the problems.
    const problems = diagnostics.filter((d) => d.severity !== 'warning');
    const first = problems[0];
    const summary = first ? `${first.line > 0 ? `${first.file}:${first.line}:${first.column}` : first.file}: ${first.message}` : 'invalid workflow';
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super('workflow_invalid', summary + more);
    this.name = 'WorkflowInvalidError';
    this.diagnostics = diagnostics;
  }
}

/** Nothing ran: the command, its options or the environment need fixing first (the CLI exits 2). */
export class SetupError extends ConductorError {
  constructor(code: string, message: string, options: ConductorErrorOptions = {}) {
    super(code, message, options);
    this.name = 'SetupError';
  }
}

/** Bad usage of the CLI or library options (not a workflow file problem). */
export class UsageError extends SetupError {
  constructor(message: string, options: ConductorErrorOptions = {}) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

/** A step failed while running. `message` already names what the step was doing and why. */
export class StepFailedError extends ConductorError {
  readonly stepId: string;

  constructor(stepId: string, code: string, message: string, options: ConductorErrorOptions = {}) {
    super(code, message, options);
    this.name = 'StepFailedError';
    this.stepId = stepId;
  }
}

/**
 * Failures that trying again cannot mend: a host name that does not exist (a typo, usually — a DNS server
 * that is only unreachable says EAI_AGAIN), and a TLS certificate that is refused.
 */
const PERMANENT_NETWORK: Record<string, string> = {
  ENOTFOUND: 'no such host: check the host name in the URL',
  ...Object.fromEntries(
    ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID'].map((code) => [
      code,
      "the server's TLS certificate was refused; for a private certificate authority, point NODE_EXTRA_CA_CERTS at its certificate",
    ]),
  ),
};

/**
 * Why a request never got an answer, as specific as the error says — the first system or client error code
 * along its `cause` chain (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET), else its message — whether it may get
 * one if tried again, and if not, what to do about it.
 */
export function networkFailure(error: unknown): { reason: string; retryable: boolean; hint?: string } {
  const code = networkCode(error);
  const hint = code === undefined ? undefined : PERMANENT_NETWORK[code];
  return { reason: code ?? (error as Error)?.message ?? String(error), retryable: hint === undefined, ...(hint ? { hint } : {}) };
}

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
  }
  return undefined;
}
