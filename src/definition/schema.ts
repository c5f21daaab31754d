/**
 * The workflow document's shape, as zod schemas built from the action registry: one definition serves the
 * validator and the published JSON Schema (`conductor schema`), so they cannot disagree.
 */
import { DURATION_HINT, parseDuration } from '../core/duration.ts';
import { z } from 'zod';
import type { ActionRegistry } from '../actions/registry.ts';
import { INPUT_TYPES } from './types.ts';
import { KNOWN_PROVIDERS } from '../providers/model.ts';

/** Providers whose calls a stated limit paces (`echo` makes none). */
const RATE_LIMITED_PROVIDERS = KNOWN_PROVIDERS.filter((p) => p !== 'echo');

/** Prices above this (US dollars per million tokens) are mistakes, and would overflow what a cost can hold. */
const MAX_PRICE = 1_000_000;
/** MAX_PRICE as written in messages; not `toLocaleString`, whose first call sets up ICU (~16 ms of every start). */
const MAX_PRICE_TEXT = '1,000,000';
const price = (what: string) =>
  z.number({ error: `expected US dollars per million ${what}` }).min(0, 'expected a price of 0 or more').max(MAX_PRICE, `expected at most ${MAX_PRICE_TEXT} US dollars per million ${what}`);

/** Prices by `provider:model`, per million tokens: `config.prices`, and $CONDUCTOR_HOME/prices.yaml (cost/prices-file.ts). */
export const pricesSchema = z.record(
  z.string().regex(/^[^\s:]+:\S+$/, 'expected `provider:model`'),
  z.strictObject({ input: price('input tokens'), output: price('output tokens'), cachedInput: price('cached input tokens').optional() }, { error: 'expected a map: { input, output, cachedInput } (US dollars per million tokens)' }),
  { error: 'expected a map of `provider:model` to prices' },
);

/** `cache:` in `config` and on a step: on, off, or on for a while. */
const cacheSetting = z.union(
  [
    z.boolean(),
    z.strictObject(
      { ttl: z.string({ error: `expected a duration: ${DURATION_HINT}` }).refine((text) => parseDuration(text) !== undefined, { message: `expected a duration: ${DURATION_HINT}` }) },
      { error: 'expected `{ ttl: "7d" }`' },
    ),
  ],
  { error: 'expected true, false or { ttl: "7d" }' },
);

export const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const stepId = z.string({ error: 'expected a step id (a string)' }).regex(STEP_ID, 'a step id starts with a letter or `_` and holds only letters, digits, `_` and `-`');

/** A `foreach` step's item variable (`as`): no `-`, so `${doc.title}` reads one way. */
export const ITEM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names `as` may not take: the roots a template reads. */
export const RESERVED_ITEM_NAMES: readonly string[] = ['steps', 'inputs', 'env', 'foreach'];

const integer = (min: number, max: number | undefined, what: string) => {
  const message = max === undefined ? `expected ${what}, ${min} or more` : `expected ${what} from ${min} to ${max}`;
  const base = z.number({ error: message }).int(message).min(min, message);
  return max === undefined ? base : base.max(max, message);
};

export function workflowSchema(actions: ActionRegistry) {
  const actionBlocks = Object.fromEntries(actions.all().map((a) => [a.name, a.schema.optional().describe(a.description)]));
  const defaultTimeouts = actions.all().map((a) => `${a.name} ${a.defaultTimeoutSeconds ?? 'none'}`).join(', ');
  const step = z.strictObject({
    id: stepId.describe('Unique id; other steps refer to this one as `${steps.<id>.output}`.'),
    name: z.string({ error: 'expected a name (a string)' }).optional().describe('A human-readable name.'),
    dependsOn: z
      .array(stepId, { error: 'expected a list of step ids' })
      .optional()
      .describe('Steps that must finish first even though no data flows from them (also spelled `depends_on`).'),
    depends_on: z
      .array(stepId, { error: 'expected a list of step ids' })
      .optional()
      .describe('The older spelling of `dependsOn`, still accepted (not both in one step).'),
    foreach: z
      .unknown()
      .optional()
      // Any value passes here: a value that is not a list, or a string that is not exactly one reference, is
      // reported by the semantic checks, with a hint. The JSON Schema still says what is expected.
      .meta({ anyOf: [{ type: 'string' }, { type: 'array' }] })
      .describe('Run the action once per item of a list: exactly one reference (`${steps.list.output}`), or a YAML list. The step\'s output is the list of item outputs, in order; `${steps.<id>.items}` is each item\'s status.'),
    as: z
      .string({ error: 'expected a name for the item (a string)' })
      .regex(ITEM_NAME, 'a name starts with a letter or `_` and holds only letters, digits and `_`')
      .optional()
      .describe('The item\'s name in the step\'s block with `foreach` (default `item`: `${item}`). Not `steps`, `inputs`, `env` or `foreach`.'),
    maxConcurrency: integer(1, 1000, 'an integer')
      .optional()
      .describe('With `foreach`: how many of this step\'s items may run at once, inside `config.maxConcurrency` (default: only that limit).'),
    cache: cacheSetting
      .optional()
      .describe('Take this step\'s result from the step cache when the same request was answered before (`true`, `false`, or `{ ttl: "7d" }`). Default: `config.cache`, for actions whose calls only look (llm, an http GET); `true` caches any step.'),
    continueOnError: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe('When the step finally fails (after retries), the run goes on: the step is `failed` and `continued`, its output absent. With `foreach`, per item: failed items are `null` in the output.'),
    if: z
      .string({ error: 'expected a condition, a CEL expression as a string (a constant is quoted: `if: "false"`)' })
      .optional()
      .describe('Run the step only when this CEL expression is true (else it is `skipped`, reason `condition`): bare, or exactly one `${ … }`. It reads `steps.<id>.output`, `.status`, `inputs.<name>` and `env.<NAME>`; every step it names is waited for. Ids with `-`: `steps["fetch-data"]`.'),
    retry: z
      .strictObject(
        {
          attempts: z.number({ error: 'expected a whole number of tries from 1 to 20' }).int('expected a whole number of tries from 1 to 20').min(1, 'expected a whole number of tries from 1 to 20').max(20, 'expected a whole number of tries from 1 to 20').optional(),
          backoff: z.number({ error: 'expected the first backoff in seconds' }).min(0, 'expected the first backoff in seconds (0 or more)').max(600, 'expected at most 600 seconds').optional(),
        },
        { error: 'expected a map: { attempts, backoff }' },
      )
      .optional()
      .describe('Retries for rate limits (429), server errors (5xx) and dropped connections. Default: 4 attempts, backoff 1 s doubling.'),
    timeout: z
      .number({ error: 'expected a number of seconds' })
      .positive('expected a number of seconds greater than 0')
      .optional()
      .describe(`Seconds each attempt may run (time waiting for a slot or a rate limit does not count). Default: \`config.timeout\`, else the action's own (${defaultTimeouts}).`),
    ...actionBlocks,
  });
  const input = z.strictObject({
    type: z.enum(INPUT_TYPES, { error: `expected one of ${INPUT_TYPES.join(', ')}` }).optional(),
    required: z.boolean({ error: 'expected true or false' }).optional(),
    default: z.unknown().optional(),
    description: z.string({ error: 'expected a description (a string)' }).optional(),
  });
  return z.strictObject({
    name: z.string({ error: 'expected a name (a string)' }).optional(),
    description: z.string({ error: 'expected a description (a string)' }).optional(),
    inputs: z.record(z.string().regex(STEP_ID, 'an input name starts with a letter or `_` and holds only letters, digits, `_` and `-`'), input, { error: 'expected a map of input names to definitions' }).optional(),
    config: z
      .strictObject({
        maxConcurrency: integer(1, 1000, 'an integer')
          .optional()
          .describe('How many steps (and `foreach` items) may run at once (default 10).'),
        maxItems: integer(1, undefined, 'a whole number')
          .optional()
          .describe('The longest list a `foreach` step may run over (default 10,000): a longer one fails the step.'),
        model: z.string({ error: 'expected `provider:model`, e.g. `openai:gpt-4o-mini`' }).optional().describe('Default model for llm steps.'),
        timeout: z.number({ error: 'expected a number of seconds' }).positive('expected a number of seconds greater than 0').optional().describe('Default step timeout in seconds.'),
        rateLimits: z
          .partialRecord(
            z.enum(RATE_LIMITED_PROVIDERS, { error: `expected a provider: ${RATE_LIMITED_PROVIDERS.join(', ')}` }),
            z
              .strictObject(
                {
                  rpm: z.number({ error: 'expected requests per minute' }).positive('expected requests per minute, more than 0').optional(),
                  tpm: z.number({ error: 'expected tokens per minute' }).positive('expected tokens per minute, more than 0').optional(),
                },
                { error: 'expected a map: { rpm, tpm }' },
              )
              .refine((limits) => limits.rpm !== undefined || limits.tpm !== undefined, { message: 'expected `rpm` (requests per minute), `tpm` (tokens per minute), or both' }),
            { error: 'expected a map of provider names to { rpm, tpm }' },
          )
          .optional()
          .describe('Known limits per provider, requests and tokens per minute, e.g. { openai: { rpm: 500, tpm: 200000 } }.'),
        cache: cacheSetting
          .optional()
          .describe('The step cache: `true`, or `{ ttl: "7d" }` (default: off). A step whose request was answered before takes that answer instead of sending it again; see the step\'s `cache`.'),
        prices: pricesSchema
          .optional()
          .describe('Prices per million tokens in US dollars, by model (`openai:gpt-4o-mini: { input: 0.15, output: 0.60 }`): over the built-in table and $CONDUCTOR_HOME/prices.yaml.'),
        budget: z
          .strictObject(
            {
              usd: z.number({ error: 'expected US dollars' }).positive('expected US dollars, more than 0').optional(),
              tokens: z.number({ error: 'expected a number of tokens' }).int('expected a whole number of tokens').positive('expected a number of tokens, more than 0').optional(),
            },
            { error: 'expected a map: { usd, tokens }' },
          )
          .optional()
          .describe('The most the run may spend: US dollars and/or tokens. Each model call reserves its worst case first; one that does not fit is not made, and the run ends `budget_exceeded` (see `--max-cost`).'),
        secrets: z
          .array(z.string({ error: 'expected an environment variable name' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name (letters, digits and `_`)'), { error: 'expected a list of environment variable names' })
          .optional()
          .describe('Environment variables whose values are secrets, whatever their names: never printed, logged or stored.'),
        files: z
          .strictObject(
            { allow: z.array(z.string({ error: 'expected a folder path' }).min(1, 'expected a folder path'), { error: 'expected a list of folders' }).optional() },
            { error: 'expected a map: { allow }' },
          )
          .optional()
          .describe('Folders besides the workflow\'s own where a `file` path chosen by a step\'s output may point (`allow: [out, /tmp/reports]`).'),
        http: z
          .strictObject(
            { allowHosts: z.array(z.string({ error: 'expected a host name' }).min(1, 'expected a host name'), { error: 'expected a list of host names' }).optional() },
            { error: 'expected a map: { allowHosts }' },
          )
          .optional()
          .describe('Hosts an `http` URL chosen by a step\'s output may call (`allowHosts: [api.example.com, "*.example.org"]`).'),
      }, { error: 'expected a map (maxConcurrency, maxItems, model, timeout, rateLimits, cache, prices, budget, secrets, files, http)' })
      .optional(),
    steps: z.array(step, { error: 'expected a list of steps' }).min(1, 'a workflow needs at least one step'),
    outputs: z.record(z.string(), z.unknown(), { error: 'expected a map of output names to values' }).optional(),
  }, { error: 'expected a map with `steps` (and optionally name, description, inputs, config, outputs)' });
}

/** The published JSON Schema, for editors (`# yaml-language-server: $schema=…`). */
export function workflowJsonSchema(actions: ActionRegistry): Record<string, unknown> {
  const json = z.toJSONSchema(workflowSchema(actions), { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  json['title'] = 'Conductor workflow';
  // "Exactly one action" is checked in code; say it in the schema too, so editors flag it.
  const step = json['properties']?.['steps']?.['items'];
  if (step) step['oneOf'] = actions.names().map((name) => ({ required: [name] }));
  return json;
}
