/**
 * The fast path's Locator. Each location it gives has its file at once and its line and column on first
 * read, from a SourceFile (yaml's Document, with positions) built then, once for all of them. A valid
 * workflow's locations (steps, inputs, conditions) are read only when a run reports a problem at one, so
 * validating or running a valid workflow never builds the Document; the locations read are the same as the
 * located path's, since they come from the same SourceFile.
 */
import type { SourceLocation } from '../core/errors.ts';
import type { PathKey } from '../template/parse.ts';
import { SourceFile, type Locator } from './source.ts';

export class DeferredSource implements Locator {
  readonly file: string;
  readonly #text: string;
  /** The parsed value, for how many items a list has (`locateItems`); let go by `checked()`. */
  #value: unknown;
  #source: SourceFile | undefined;

  constructor(file: string, text: string, value: unknown) {
    this.file = file;
    this.#text = text;
    this.#value = value;
  }

  /**
   * The checks are done: let the parsed value go. A valid spec's locations keep this object alive for the
   * whole run; they need only the text.
   */
  checked(): void {
    this.#value = undefined;
  }

  /** The located source, built on first use. */
  get source(): SourceFile {
    return (this.#source ??= new SourceFile(this.file, this.#text));
  }

  at(offset: number): SourceLocation {
    return this.#deferred(() => this.source.at(offset));
  }

  locate(path: readonly PathKey[], options: { key?: boolean } = {}): SourceLocation {
    const copy = [...path];
    return this.#deferred(() => this.source.locate(copy, options));
  }

  locateItems(path: readonly PathKey[]): SourceLocation[] {
    const list = valueAt(this.#value, path);
    if (!Array.isArray(list)) return [];
    const copy = [...path];
    let all: SourceLocation[] | undefined;
    return list.map((_, i) => this.#deferred(() => (all ??= this.source.locateItems(copy))[i]!));
  }

  locateInString(path: readonly PathKey[], offset: number, raw: string): SourceLocation {
    const copy = [...path];
    return this.#deferred(() => this.source.locateInString(copy, offset, raw));
  }

  locateInValue(path: readonly PathKey[], offset: number): SourceLocation {
    const copy = [...path];
    return this.#deferred(() => this.source.locateInValue(copy, offset));
  }

  #deferred(resolve: () => SourceLocation): SourceLocation {
    let found: SourceLocation | undefined;
    const get = () => (found ??= resolve());
    // Own enumerable getters, so `{ ...location }` (how problems are built from it) reads the line and column.
    return {
      file: this.file,
      get line() {
        return get().line;
      },
      get column() {
        return get().column;
      },
    };
  }
}

function valueAt(value: unknown, path: readonly PathKey[]): unknown {
  let at = value;
  for (const key of path) at = at !== null && typeof at === 'object' ? (at as Record<PathKey, unknown>)[key] : undefined;
  return at;
}
