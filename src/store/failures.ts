/**
 * How a store tells its failures, the same for every store: a write that fails in the background (a grouped
 * commit, a heartbeat) goes to `onError` at once and is thrown by the next call that can throw; once a failure
 * has reached the caller, later ones are the same story and are not told again (the run is already failing
 * because of the store). After any failure the store is broken: it attempts only what it must still write.
 */
import type { ConductorError } from '../core/errors.ts';

export class StoreFailures {
  /** A failure happened: background writes stop. */
  broken = false;
  readonly #onError: ((error: ConductorError) => void) | undefined;
  /** A background failure that no call has thrown yet. */
  #unreported: ConductorError | undefined;
  /** A failure has reached the caller (thrown, or given to onError). */
  #reported = false;

  constructor(onError: ((error: ConductorError) => void) | undefined) {
    this.#onError = onError;
  }

  /** Timers and grouped writes cannot throw to anyone: the failure goes to onError now and to the next call. */
  background(error: ConductorError): void {
    this.broken = true;
    if (this.#reported || this.#unreported) return;
    this.#unreported = error;
    if (this.#onError) {
      this.#reported = true;
      this.#onError(error);
    }
  }

  /** Throws a background failure that no call has thrown yet. */
  check(): void {
    const error = this.#unreported;
    if (!error) return;
    this.#unreported = undefined;
    throw this.raise(error);
  }

  /** `error`, marked as told: for a call to throw. */
  raise(error: ConductorError): ConductorError {
    this.#reported = true;
    return error;
  }

  /** A failure has been told and nothing newer is waiting: another message would say the same. */
  get told(): boolean {
    return this.#reported && !this.#unreported;
  }

  /** The waiting background failure is superseded (a later call's own failure tells the story). */
  forget(): void {
    this.#unreported = undefined;
  }
}
