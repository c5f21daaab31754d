/**
 * The one CEL environment conditions are checked and evaluated in: `steps`, `inputs` and `env` declared as
 * maps (their values are JSON, so their fields are `dyn`), and structural limits far below the library's
 * defaults, because a condition is a line or two.
 *
 * Why @marcbachmann/cel-js: no dependencies, type checking through declared variables, a walkable AST (to find
 * every `steps.<id>` a condition names), and dynamic JSON numbers that compare with int literals.
 */
import { createRequire } from 'node:module';
import type * as Cel from '@marcbachmann/cel-js';
import type { Environment, ParseResult } from '@marcbachmann/cel-js';

/** The names a condition reads; anything else is an unknown name. */
export const CONDITION_ROOTS = ['steps', 'inputs', 'env'] as const;

/**
 * Parse-time limits. Evaluation is synchronous and the library has no run-time budget, so what can be
 * bounded is the expression's size: these keep a condition to what a person writes by hand (the library's
 * defaults allow 100,000 nodes). The limits are the same for `validate` and the run, so a condition that
 * validates always compiles.
 */
export const CONDITION_LIMITS = Object.freeze({ maxAstNodes: 500, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 16 });

/** Longer text is refused before parsing (a string literal can be long without being many nodes). */
export const MAX_CONDITION_LENGTH = 4096;

/**
 * The library, loaded on first use: most workflows have no `if`, and loading it costs ~18 ms of every process
 * (`validate`, `run`). It is an ES module with no top-level await, so `require` loads it synchronously, and it
 * is the same instance an `import` of it gives.
 */
let cel: typeof Cel | undefined;
function celJs(): typeof Cel {
  return (cel ??= createRequire(import.meta.url)('@marcbachmann/cel-js') as typeof Cel);
}

let shared: Environment | undefined;

export function conditionEnvironment(): Environment {
  if (!shared) {
    shared = new (celJs().Environment)({ limits: CONDITION_LIMITS });
    for (const root of CONDITION_ROOTS) shared.registerVariable(root, 'map');
  }
  return shared;
}

/** Parse (throws the library's ParseError); the caller caches. */
export function parseCondition(expression: string): ParseResult {
  return conditionEnvironment().parse(expression);
}

/** A CEL type as a person reads it: `an int`, `a list`, `a map`. */
export function describeType(type: string): string {
  const base = type.replace(/<.*$/, '');
  switch (base) {
    case 'int':
      return 'an int';
    case 'uint':
    case 'double':
    case 'null':
    case 'null_type':
      return 'null';
    case 'list':
    case 'map':
    case 'bool':
    case 'string':
    case 'bytes':
    case 'type':
      return `a ${base}`;
    case 'google.protobuf.Timestamp':
      return 'a timestamp';
    case 'google.protobuf.Duration':
      return 'a duration';
    default:
      return `a \`${type}\``;
  }
}
