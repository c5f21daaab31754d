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
  z.strictObject(
    {
      input: price('input tokens').describe('US dollars per million input tokens.').meta({ examples: [0.15] }),
      output: price('output tokens').describe('US dollars per million output tokens.').meta({ examples: [0.6] }),
      cachedInput: price('cached input tokens').optional().describe('US dollars per million input tokens the provider served from its prompt cache (default: `input`).').meta({ examples: [0.075] }),
    },
    { error: 'expected a map: { input, output, cachedInput } (US dollars per million tokens)' },
  ),
  { error: 'expected a map of `provider:model` to prices' },
);

/** `cache:` in `config` and on a step: on, off, or on for a while. */
const cacheSetting = z.union(
  [
    z.boolean(),
    z.strictObject(
      {
        ttl: z
          .string({ error: `expected a duration: ${DURATION_HINT}` })
          .refine((text) => parseDuration(text) !== undefined, { message: `expected a duration: ${DURATION_HINT}` })
          .describe(`How long an entry may be taken after it was made: ${DURATION_HINT}.`)
          .meta({ examples: ['7d'] }),
      },
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
  const retriedWhenAsked = actions.all().filter((a) => a.retriesWhenAsked).map((a) => `\`${a.name}\``);
  const onlyWhenAsked = retriedWhenAsked.length === 0 ? '' : ` A ${retriedWhenAsked.join(' or ')} step is tried once unless it says \`retry\`.`;
  const step = z.strictObject({
    id: stepId.describe('Unique id; other steps refer to this one as `${steps.<id>.output}`.').meta({ examples: ['summarise'] }),
    name: z.string({ error: 'expected a name (a string)' }).optional().describe('A human-readable name.').meta({ examples: ['Summarise each report'] }),
    dependsOn: z
      .array(stepId, { error: 'expected a list of step ids' })
      .optional()
      .describe('Steps that must finish first even though no data flows from them (also spelled `depends_on`).')
      .meta({ examples: [['setup']] }),
    depends_on: z
      .array(stepId, { error: 'expected a list of step ids' })
      .optional()
      .describe('The older spelling of `dependsOn`, still accepted (not both in one step).')
      .meta({ examples: [['setup']] }),
    foreach: z
      .unknown()
      .optional()
      // Any value passes here: a value that is not a list, or a string that is not exactly one reference, is
      // reported by the semantic checks, with a hint. The JSON Schema still says what is expected.
      .meta({ anyOf: [{ type: 'string' }, { type: 'array' }], examples: ['${steps.list.output}', ['intro', 'body', 'ending']] })
      .describe('Run the action once per item of a list: exactly one reference (`${steps.list.output}`), or a YAML list. The step\'s output is the list of item outputs, in order; `${steps.<id>.items}` is each item\'s status.'),
    as: z
      .string({ error: 'expected a name for the item (a string)' })
      .regex(ITEM_NAME, 'a name starts with a letter or `_` and holds only letters, digits and `_`')
      .optional()
      .describe('The item\'s name in the step\'s block with `foreach` (default `item`: `${item}`). Not `steps`, `inputs`, `env` or `foreach`.')
      .meta({ default: 'item', examples: ['doc'] }),
    maxConcurrency: integer(1, 1000, 'an integer')
      .optional()
      .describe('With `foreach`: how many of this step\'s items may run at once, inside `config.maxConcurrency` (default: only that limit).')
      .meta({ examples: [4] }),
    cache: cacheSetting
      .optional()
      .describe('Take this step\'s result from the step cache when the same request was answered before (`true`, `false`, or `{ ttl: "7d" }`). Default: `config.cache`, for actions whose calls only look (llm, an http GET); `true` caches any step.')
      .meta({ examples: [true, { ttl: '7d' }] }),
    continueOnError: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe('When the step finally fails (after retries), the run goes on: the step is `failed` and `continued`, its output absent. With `foreach`, per item: failed items are `null` in the output.')
      .meta({ default: false, examples: [true] }),
    if: z
      .string({ error: 'expected a condition, a CEL expression as a string (a constant is quoted: `if: "false"`)' })
      .optional()
      .describe('Run the step only when this CEL expression is true (else it is `skipped`, reason `condition`): bare, or exactly one `${ … }`. It reads `steps.<id>.output`, `.status`, `inputs.<name>` and `env.<NAME>`; every step it names is waited for. Ids with `-`: `steps["fetch-data"]`.')
      .meta({ examples: ['steps.classify.output == "bug"'] }),
    retry: z
      .strictObject(
        {
          attempts: z
            .number({ error: 'expected a whole number of tries from 1 to 20' })
            .int('expected a whole number of tries from 1 to 20')
            .min(1, 'expected a whole number of tries from 1 to 20')
            .max(20, 'expected a whole number of tries from 1 to 20')
            .optional()
            .describe(`Tries in all, the first included (1 turns retries off), from 1 to 20.${onlyWhenAsked}`)
            .meta({ default: 4, examples: [6] }),
          backoff: z
            .number({ error: 'expected the first backoff in seconds' })
            .min(0, 'expected the first backoff in seconds (0 or more)')
            .max(600, 'expected at most 600 seconds')
            .optional()
            .describe('Seconds before the first retry (0 to 600). Each wait doubles and is capped at 60 s, the first included (any value from 60 up waits 60 s), and is drawn between half and all of that; a `Retry-After` the server sends wins.')
            .meta({ default: 1, examples: [2] }),
        },
        { error: 'expected a map: { attempts, backoff }' },
      )
      .optional()
      .describe(`Retries for rate limits (429), server errors (5xx) and dropped connections. Default: 4 attempts, backoff 1 s doubling.${onlyWhenAsked}`)
      .meta({ default: { attempts: 4, backoff: 1 }, examples: [{ attempts: 6, backoff: 2 }] }),
    timeout: z
      .number({ error: 'expected a number of seconds' })
      .positive('expected a number of seconds greater than 0')
      .optional()
      .describe(`Seconds each attempt may run (time waiting for a slot or a rate limit does not count). Default: \`config.timeout\`, else the action's own (${defaultTimeouts}).`)
      .meta({ examples: [300] }),
    ...actionBlocks,
  });
  const input = z.strictObject({
    type: z
      .enum(INPUT_TYPES, { error: `expected one of ${INPUT_TYPES.join(', ')}` })
      .optional()
      .describe('What the value must be; `-i` text is converted to it (`-i count=3` is the number 3 for `number`; `object` and `array` take JSON). Without it, any value.')
      .meta({ examples: ['number'] }),
    required: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe('Whether a run must be given a value. Default: true when there is no `default`.')
      .meta({ examples: [false] }),
    default: z.unknown().optional().describe('The value when none is given (of the input\'s `type`).').meta({ examples: [3] }),
    description: z.string({ error: 'expected a description (a string)' }).optional().describe('What the input is for: shown by `plan`, in the dashboard\'s start form, and in a missing input\'s message.').meta({ examples: ['The document to summarise'] }),
  });
  return z.strictObject({
    name: z.string({ error: 'expected a name (a string)' }).optional().describe('The workflow\'s name, in reports and the runs list (default: the file\'s name).').meta({ examples: ['weekly-digest'] }),
    description: z.string({ error: 'expected a description (a string)' }).optional().describe('What the workflow does.').meta({ examples: ['Summarise each report, then combine them'] }),
    inputs: z
      .record(z.string().regex(STEP_ID, 'an input name starts with a letter or `_` and holds only letters, digits, `_` and `-`'), input, { error: 'expected a map of input names to definitions' })
      .optional()
      .describe('Values a run is given (`-i name=value`), read as `${inputs.<name>}`; each defined by the keys below.')
      .meta({ examples: [{ topic: { type: 'string', description: 'What to write about' } }] }),
    config: z
      .strictObject({
        maxConcurrency: integer(1, 1000, 'an integer')
          .optional()
          .describe('How many steps (and `foreach` items) may run at once (default 10).')
          .meta({ default: 10, examples: [20] }),
        maxItems: integer(1, undefined, 'a whole number')
          .optional()
          .describe('The longest list a `foreach` step may run over (default 10,000): a longer one fails the step.')
          .meta({ default: 10000, examples: [50000] }),
        model: z
          .string({ error: 'expected `provider:model`, e.g. `openai:gpt-4o-mini`' })
          // Read before the run, when no input or output is known: a template here would never be filled. (Any other
          // bad model string is told by the llm action's preflight, with a hint.)
          .refine((text) => !text.includes('${'), { message: '`model` is read before the run, so it cannot hold a `${…}` reference: write the model, or leave it out and give `--model` when you run' })
          .optional()
          .describe('Default model for llm steps that name none. `--model` on the command line wins over it; it wins over `CONDUCTOR_MODEL`.')
          .meta({ examples: ['openai:gpt-4o-mini'], not: { pattern: '\\$\\{' } }),
        timeout: z
          .number({ error: 'expected a number of seconds' })
          .positive('expected a number of seconds greater than 0')
          .optional()
          .describe('Default step timeout in seconds, per attempt (a step\'s `timeout` wins).')
          .meta({ examples: [120] }),
        rateLimits: z
          .partialRecord(
            z.enum(RATE_LIMITED_PROVIDERS, { error: `expected a provider: ${RATE_LIMITED_PROVIDERS.join(', ')}` }),
            z
              .strictObject(
                {
                  rpm: z.number({ error: 'expected requests per minute' }).positive('expected requests per minute, more than 0').optional().describe('Requests per minute.').meta({ examples: [500] }),
                  tpm: z.number({ error: 'expected tokens per minute' }).positive('expected tokens per minute, more than 0').optional().describe('Tokens per minute (input and output).').meta({ examples: [200000] }),
                },
                { error: 'expected a map: { rpm, tpm }' },
              )
              .refine((limits) => limits.rpm !== undefined || limits.tpm !== undefined, { message: 'expected `rpm` (requests per minute), `tpm` (tokens per minute), or both' }),
            { error: 'expected a map of provider names to { rpm, tpm }' },
          )
          .optional()
          .describe('Known limits per provider, requests and tokens per minute, e.g. { openai: { rpm: 500, tpm: 200000 } }.')
          .meta({ examples: [{ openai: { rpm: 500, tpm: 200000 } }] }),
        cache: cacheSetting
          .optional()
          .describe('The step cache: `true`, or `{ ttl: "7d" }` (default: off). A step whose request was answered before takes that answer instead of sending it again; see the step\'s `cache`.')
          .meta({ default: false, examples: [{ ttl: '7d' }] }),
        prices: pricesSchema
          .optional()
          .describe('Prices per million tokens in US dollars, by model (`openai:gpt-4o-mini: { input: 0.15, output: 0.60 }`): over the built-in table and $CONDUCTOR_HOME/prices.yaml.')
          .meta({ examples: [{ 'openai:gpt-4o-mini': { input: 0.15, output: 0.6 } }] }),
        budget: z
          .strictObject(
            {
              usd: z.number({ error: 'expected US dollars' }).positive('expected US dollars, more than 0').optional().describe('The most the run may spend in US dollars.').meta({ examples: [2.5] }),
              tokens: z
                .number({ error: 'expected a number of tokens' })
                .int('expected a whole number of tokens')
                .positive('expected a number of tokens, more than 0')
                .optional()
                .describe('The most tokens (input and output) the run\'s model calls may use.')
                .meta({ examples: [1000000] }),
            },
            { error: 'expected a map: { usd, tokens }' },
          )
          .optional()
          .describe('The most the run may spend: US dollars and/or tokens. Each model call reserves its worst case first; one that does not fit is not made, and the run ends `budget_exceeded` (see `--max-cost`).')
          .meta({ examples: [{ usd: 2.5 }] }),
        secrets: z
          .array(z.string({ error: 'expected an environment variable name' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name (letters, digits and `_`)'), { error: 'expected a list of environment variable names' })
          .optional()
          .describe('Environment variables whose values are secrets, whatever their names: never printed, logged or stored.')
          .meta({ examples: [['API_AUTH']] }),
        files: z
          .strictObject(
            {
              allow: z
                .array(z.string({ error: 'expected a folder path' }).min(1, 'expected a folder path'), { error: 'expected a list of folders' })
                .optional()
                .describe('The folders (relative to the workflow file, or absolute).')
                .meta({ examples: [['out', '/tmp/reports']] }),
            },
            { error: 'expected a map: { allow }' },
          )
          .optional()
          .describe('Folders besides the workflow\'s own where a `file` path chosen by a step\'s output may point (`allow: [out, /tmp/reports]`).')
          .meta({ examples: [{ allow: ['out'] }] }),
        http: z
          .strictObject(
            {
              allowHosts: z
                .array(z.string({ error: 'expected a host name' }).min(1, 'expected a host name'), { error: 'expected a list of host names' })
                .optional()
                .describe('Host names; `*.example.org` matches its subdomains.')
                .meta({ examples: [['api.example.com', '*.example.org']] }),
            },
            { error: 'expected a map: { allowHosts }' },
          )
          .optional()
          .describe('Hosts an `http` URL chosen by a step\'s output may call (`allowHosts: [api.example.com, "*.example.org"]`).')
          .meta({ examples: [{ allowHosts: ['api.example.com'] }] }),
      }, { error: 'expected a map (maxConcurrency, maxItems, model, timeout, rateLimits, cache, prices, budget, secrets, files, http)' })
      .optional()
      .describe('Settings for the whole run: the keys below.')
      .meta({ examples: [{ maxConcurrency: 20, model: 'openai:gpt-4o-mini' }] }),
    steps: z
      .array(step, { error: 'expected a list of steps' })
      .min(1, 'a workflow needs at least one step')
      .describe('What the workflow does: one action per step (see the step keys and the actions).')
      .meta({ examples: [[{ id: 'hello', llm: { prompt: 'Say hello' } }]] }),
    outputs: z
      .record(z.string(), z.unknown(), { error: 'expected a map of output names to values' })
      .optional()
      .describe('What the run prints when it ends (and returns in `--json`): names to values, templates resolved.')
      .meta({ examples: [{ summary: '${steps.combine.output}' }] }),
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
