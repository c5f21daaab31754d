/**
 * The JSON Schema of an `llm` step's `schema`: is it a schema Conductor can check answers against (asked by
 * the workflow validator, so `validate` locates the problem), and does an answer match it (asked by the run).
 * Ajv is loaded on first use, synchronously because the workflow validator is: workflows without a `schema`
 * never load it.
 */
import { createRequire } from 'node:module';
import type { Ajv, AnySchemaObject, ErrorObject, Options, ValidateFunction } from 'ajv';
import { ConductorError } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';

/** `$schema` → the Ajv build for it. No `$schema` means 2020-12, the draft providers' structured output follows. */
const DRAFTS = {
  'json-schema.org/draft/2020-12/schema': '2020-12',
  'json-schema.org/draft/2019-09/schema': '2019-09',
  'json-schema.org/draft-07/schema': 'draft-07',
  'json-schema.org/draft-06/schema': 'draft-06',
} as const;
type Draft = (typeof DRAFTS)[keyof typeof DRAFTS];

const OPTIONS: Options = {
  // Unknown keywords are errors (a typo like `requried` would silently check nothing); the rest of strict
  // mode judges style, not meaning, and would reject schemas providers accept.
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  // Formats (`email`, `date-time`) need a plugin this package does not carry: they are not checked.
  validateFormats: false,
  allErrors: false,
  logger: false,
};

const require = createRequire(import.meta.url);
/** One Ajv per draft for the process: building one compiles its meta-schema (~50 ms). */
const instances = new Map<Draft, Ajv>();

function ajvFor(draft: Draft): Ajv {
  let ajv = instances.get(draft);
  if (ajv) return ajv;
  switch (draft) {
    case '2020-12': {
      const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
      ajv = new Ajv2020(OPTIONS);
      break;
    }
    case '2019-09': {
      const { Ajv2019 } = require('ajv/dist/2019.js') as typeof import('ajv/dist/2019.js');
      ajv = new Ajv2019(OPTIONS);
      break;
    }
    case 'draft-07':
    case 'draft-06': {
      const { Ajv: Draft07 } = require('ajv') as typeof import('ajv');
      ajv = new Draft07(OPTIONS);
      if (draft === 'draft-06') ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as AnySchemaObject);
      break;
    }
  }
  instances.set(draft, ajv);
  return ajv;
}

/** A problem with the schema itself, at a path inside it (`['properties', 'urgency', 'maximum']`). */
export interface SchemaProblem {
  path: (string | number)[];
  message: string;
}

function draftOf(schema: Readonly<Record<string, unknown>>): Draft | SchemaProblem {
  const declared = schema['$schema'];
  if (declared === undefined) return '2020-12';
  const key = typeof declared === 'string' ? declared.replace(/^https?:\/\//, '').replace(/#$/, '') : '';
  return (
    DRAFTS[key as keyof typeof DRAFTS] ?? {
      path: ['$schema'],
      message: `\`$schema\` ${JSON.stringify(declared)} is not a draft Conductor checks; use 2020-12 (leave \`$schema\` out), 2019-09, draft-07 or draft-06`,
    }
  );
}

/**
 * Compiles the schema, or says what is wrong with it and where. Compiled functions stay valid after the
 * schema is removed from the shared instance, which keeps the instance from growing with every run.
 */
function compile(schema: Readonly<Record<string, unknown>>): ValidateFunction | SchemaProblem {
  const draft = draftOf(schema);
  if (typeof draft !== 'string') return draft;
  const ajv = ajvFor(draft);
  if (!ajv.validateSchema(schema)) {
    const error = ajv.errors?.[0];
    const path = pointerPath(error?.instancePath ?? '');
    const last = path.at(-1);
    return { path, message: `${last === undefined ? 'the schema' : `\`${last}\``} ${error?.message ?? 'is not a valid JSON Schema'}` };
  }
  try {
    return ajv.compile(schema);
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /unknown keyword: "([^"]+)"/.exec(message)?.[1];
    if (unknown !== undefined) {
      const known = Object.keys(ajv.RULES.keywords);
      const guess = didYouMean(unknown, known);
      return { path: keywordPath(schema, unknown) ?? [], message: `unknown JSON Schema keyword \`${unknown}\`${guess ? ` (${guess})` : ''}` };
    }
    return { path: [], message: `the schema cannot be used: ${message}` };
  } finally {
    ajv.removeSchema(schema);
  }
}

const checked = new Map<string, SchemaProblem | null>();

/** What is wrong with a schema, if anything. Remembered by its text: the run checks each step's input again. */
export function schemaProblem(schema: Readonly<Record<string, unknown>>): SchemaProblem | undefined {
  const key = JSON.stringify(schema);
  let problem = checked.get(key);
  if (problem === undefined) {
    const result = compile(schema);
    problem = typeof result === 'function' ? null : result;
    // A bounded memo: a long-lived process (the library) checking ever-new schemas must not grow without end.
    if (checked.size >= 100) checked.clear();
    checked.set(key, problem);
  }
  return problem ?? undefined;
}

/** Checks an answer: undefined when it matches, else the first offending path and why (`/urgency: must be <= 5`). */
export type AnswerCheck = (value: unknown) => string | undefined;

/** The check for a schema, compiled once per run (`runScope`) however many steps and tries use it. */
export function answerCheck(schema: Readonly<Record<string, unknown>>, runScope: Map<string, unknown>): AnswerCheck {
  const key = `llm:schema ${JSON.stringify(schema)}`;
  let check = runScope.get(key) as AnswerCheck | undefined;
  if (check) return check;
  const validate = compile(schema);
  if (typeof validate !== 'function') {
    throw new ConductorError('schema_invalid', `\`schema\`${validate.path.length ? ` at ${validate.path.join('.')}` : ''}: ${validate.message}`, {
      hint: 'fix the JSON Schema in the step (`conductor validate` shows where)',
    });
  }
  check = (value) => (validate(value) ? undefined : describe(validate.errors?.[0]));
  runScope.set(key, check);
  return check;
}

/** One mismatch as a JSON Pointer to the offending value and what it must be. */
export function describe(error: ErrorObject | undefined): string {
  if (!error) return '/: does not match the schema';
  let path = error.instancePath;
  let message = error.message ?? 'does not match the schema';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      path += `/${escapePointer(String(params['missingProperty']))}`;
      message = 'is required';
      break;
    case 'additionalProperties':
      path += `/${escapePointer(String(params['additionalProperty']))}`;
      message = 'is not allowed (additionalProperties)';
      break;
    case 'unevaluatedProperties':
      path += `/${escapePointer(String(params['unevaluatedProperty']))}`;
      message = 'is not allowed (unevaluatedProperties)';
      break;
    case 'enum':
      message = `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify(params['allowedValue'])}`;
      break;
  }
  return `${path || '/'}: ${message}`;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointerPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** Maps whose keys are names the author chose, not keywords: descend into their values, never match their keys. */
const NAMED = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependentRequired']);

/** Where an unknown keyword sits in the schema (Ajv's message does not say), for a located diagnostic. */
function keywordPath(node: unknown, keyword: string, path: (string | number)[] = []): (string | number)[] | undefined {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = keywordPath(node[i], keyword, [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  const record = node as Record<string, unknown>;
  if (Object.hasOwn(record, keyword)) return [...path, keyword];
  for (const [key, value] of Object.entries(record)) {
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') continue;
    if (NAMED.has(key) && value && typeof value === 'object') {
      for (const [name, child] of Object.entries(value)) {
        const found = keywordPath(child, keyword, [...path, key, name]);
        if (found) return found;
      }
      continue;
    }
    const found = keywordPath(value, keyword, [...path, key]);
    if (found) return found;
  }
  return undefined;
}
