import type { AnyAction } from './types.ts';

/** The set of actions a workflow may use, by block name. Built explicitly in one place (`builtinActions`). */
export class ActionRegistry {
  readonly #actions = new Map<string, AnyAction>();

  constructor(actions: Iterable<AnyAction> = []) {
    for (const action of actions) this.register(action);
  }

  register(action: AnyAction): this {
    if (this.#actions.has(action.name)) throw new Error(`action \`${action.name}\` is registered twice`);
    for (const call of action.calls ?? []) {
      const owner = this.all().find((other) => other.calls?.some((c) => c.kind === call.kind));
      if (owner) throw new Error(`action \`${action.name}\` counts calls as \`${call.kind}\`, as \`${owner.name}\` does: give it a kind of its own`);
    }
    this.#actions.set(action.name, action);
    return this;
  }

  get(name: string): AnyAction | undefined {
    return this.#actions.get(name);
  }

  names(): string[] {
    return [...this.#actions.keys()];
  }

  all(): AnyAction[] {
    return [...this.#actions.values()];
  }
}
