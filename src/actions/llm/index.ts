/**
 * `llm`: prompt a model. The provider is chosen by the model string (`provider:model`); provider code is loaded
 * by `prepare` before a run that uses it (or by the first call), so validating or planning never pays for it.
 */
import { z } from 'zod';
import { StepFailedError, type ConductorError } from '../../core/errors.ts';
import { endpointFor, missingKey, publicURL } from '../../providers/endpoint.ts';
import { answerCheck, schemaProblem } from '../../providers/json-schema.ts';
import { minimalValue } from '../../providers/minimal.ts';
import { KNOWN_PROVIDERS, parseModel, resolveModel, type ModelRef } from '../../providers/model.ts';
import { templated } from '../templated.ts';
import type { ActionContext, ActionDefinition } from '../types.ts';

const schema = z.strictObject({
  prompt: z.string({ error: 'expected the prompt text (a string)' }).describe('What to ask; templates are filled in first.').meta({ examples: ['Summarise in three bullets: ${steps.read.output}'] }),
  system: z.string({ error: 'expected a system prompt (a string)' }).optional().describe('The system prompt.').meta({ examples: ['You are a careful editor.'] }),
  model: z
    .string({ error: `expected \`provider:model\`, e.g. \`openai:gpt-4o-mini\` (providers: ${KNOWN_PROVIDERS.join(', ')})` })
    .optional()
    .describe(`The model, \`provider:model\` (providers: ${KNOWN_PROVIDERS.join(', ')}). Default: \`--model\`, else \`config.model\`, else \`CONDUCTOR_MODEL\`, else the provider whose key is set (\`OPENAI_API_KEY\`, then \`ANTHROPIC_API_KEY\`, else Ollama). A step's output may not choose it.`)
    .meta({ examples: ['anthropic:claude-sonnet-4-5'] }),
  temperature: templated(z.number().min(0, 'expected a temperature from 0 to 2').max(2, 'expected a temperature from 0 to 2'))
    .optional()
    .describe('Sampling temperature, 0 to 2 (default: the provider\'s).')
    .meta({ examples: [0.2] }),
  maxTokens: templated(z.number().int('expected a whole number of tokens').positive('expected a whole number of tokens'))
    .optional()
    .describe('The most tokens the answer may hold (also what a budget reserves for the call).')
    .meta({ examples: [500] }),
  schema: z
    .record(z.string(), z.unknown(), { error: 'expected a JSON Schema (a map)' })
    .superRefine((value, ctx) => {
      // One with a template in it is checked once the run has resolved it (this same schema checks it again).
      if (JSON.stringify(value).includes('${')) return;
      const problem = schemaProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path, params: { code: 'invalid_schema' } });
    })
    .optional()
    .describe('A JSON Schema the answer must match: the output is then the parsed object, not text.')
    .meta({ examples: [{ type: 'object', properties: { label: { type: 'string' } }, required: ['label'] }] }),
  stream: z.boolean({ error: 'expected true or false' }).optional().describe('Ask the provider to stream the answer (off by default: one response costs the engine far less CPU than a stream).').meta({ default: false, examples: [true] }),
});

export interface LlmInput {
  prompt: string;
  system?: string;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  schema?: Record<string, unknown>;
  /** Stream the answer (default false: one response costs the engine far less CPU than a stream). */
  stream?: boolean;
}

/** Loaded on the first real call; kept, since a repeated `import()` costs a module-loader lookup per call. */
let providers: Promise<typeof import('../../providers/generate.ts')> | undefined;

export const llmAction: ActionDefinition<LlmInput> = {
  name: 'llm',
  description: 'Prompt a model (`provider:model`); output is the generated text, or the parsed object with `schema`.',
  schema: schema as unknown as z.ZodType<LlmInput>,
  exposes: ['model', 'usage', 'finishReason'],
  destinations: { model: 'model' }, // the provider is where the prompt goes: a step's output may not pick it (scheduler/confine.ts)
  // A model's answer: seconds (an order of magnitude beyond an API call).
  typicalMs: 3000,
  runsOnWorkers: true,
  // A model that has not answered in ten minutes is not going to: the step fails instead of hanging the run.
  defaultTimeoutSeconds: 600,
  calls: [{ kind: 'llm', noun: 'LLM call' }],
  usesTokens: true,
  // A model call sends the same answer for the same request only by chance, but it is the request a user pays
  // for: with the cache on, it is the first thing worth keeping.
  cacheable: () => true,
  estimate(input, ctx) {
    let model: ModelRef;
    try {
      model = resolveModel(input.model, ctx.defaults.model, ctx.env);
    } catch {
      return undefined;
    }
    // A `schema` step may ask twice: the second time with the first answer and what was wrong with it.
    const prompt = promptTokensAtMost(input);
    const calls = input.schema ? 2 : 1;
    const inputTokens = calls * prompt + (input.schema && input.maxTokens !== undefined ? input.maxTokens + CORRECTION_TOKENS : 0);
    return { model: model.id, inputTokens, ...(input.maxTokens === undefined ? {} : { outputTokens: calls * input.maxTokens }) };
  },
  describe: (input) => `llm ${input.model ?? ''}`.trim(),
  check(block, ctx) {
    // A model written in the file is checked now; one a template gives, once the run resolves it.
    const model = block['model'];
    if (typeof model !== 'string' || ctx.known(model) !== 'literal') return [];
    const parsed = parseModel(model);
    return 'problem' in parsed ? [{ path: ['model'], code: 'invalid_model', message: parsed.problem, ...(parsed.hint ? { hint: parsed.hint } : {}) }] : [];
  },
  // 2: answers are checked against `schema` (and `echo` answers a schema step with a matching object), so an
  // answer recorded unchecked is not one this version would give.
  version: 2,
  identity(block, ctx) {
    // The model a step really runs with once defaults apply, and where it is reached; unknown when templated.
    if (block['model'] === undefined && 'model' in block) return { model: undefined, endpoint: undefined };
    let model: ModelRef;
    try {
      model = resolveModel(typeof block['model'] === 'string' ? block['model'] : undefined, ctx.defaults.model, ctx.env);
    } catch {
      return { model: undefined, endpoint: undefined };
    }
    return { model: model.id, endpoint: model.provider === 'echo' ? undefined : publicURL(endpointFor(model.provider, ctx.env).baseURL) };
  },
  async prepare() {
    // The AI SDK and the provider SDKs take a few hundred ms to load: paid before the run, not by its first step.
    const { preload } = await (providers ??= import('../../providers/generate.ts'));
    await preload();
  },
  preflight(block, ctx) {
    // A model named by a template is only known at run time; anything else is checked now.
    if (block['model'] === undefined && 'model' in block) return undefined;
    let model: ModelRef;
    try {
      model = resolveModel(typeof block['model'] === 'string' ? block['model'] : undefined, ctx.defaults.model, ctx.env);
    } catch (error) {
      return { message: (error as Error).message, code: (error as ConductorError).code ?? 'model_invalid', ...((error as ConductorError).hint ? { hint: (error as ConductorError).hint! } : {}) };
    }
    // On workers, the key is each worker's own: it is checked where the call is made.
    if (model.provider === 'echo' || ctx.onWorkers) return undefined;
    const problem = missingKey(endpointFor(model.provider, ctx.env));
    return problem ? { message: problem.message, code: problem.code, ...(problem.hint ? { hint: problem.hint } : {}) } : undefined;
  },
  async run(input, ctx) {
    const model: ModelRef = resolveModel(input.model, ctx.defaults.model, ctx.env);
    if (model.provider === 'echo') {
      // Not a model: answers with the prompt it was given (with a `schema`, the simplest object it allows), for
      // trying a workflow's wiring offline.
      const text = input.system ? `${input.system}\n\n${input.prompt}` : input.prompt;
      const output = input.schema ? echoStructured(input.schema, ctx) : text;
      return { output, properties: { model: model.id, usage: { inputTokens: 0, outputTokens: 0 }, finishReason: 'stop' }, usage: { model: model.id, inputTokens: 0, outputTokens: 0 } };
    }
    const { generate } = await (providers ??= import('../../providers/generate.ts'));
    try {
      return await generate(model, input, ctx);
    } catch (error) {
      if (ctx.signal.aborted || error instanceof StepFailedError) throw error;
      throw new StepFailedError(ctx.stepId, 'llm_error', `${model.id}: ${(error as Error).message}`, { cause: error });
    }
  },
};

function echoStructured(schema: Record<string, unknown>, ctx: ActionContext): unknown {
  const value = minimalValue(schema);
  let problem: string | undefined;
  try {
    problem = answerCheck(schema, ctx.runScope)(value);
  } catch (error) {
    throw new StepFailedError(ctx.stepId, (error as ConductorError).code ?? 'schema_invalid', `echo: ${(error as Error).message}`, { cause: error });
  }
  if (problem === undefined) return value;
  throw new StepFailedError(ctx.stepId, 'schema_mismatch', `echo: the simplest answer echo can build does not match the schema: ${problem}`, {
    hint: 'echo cannot satisfy every schema (a `pattern`, a `not`); try this step with a real model',
  });
}

/** The words that ask a model to correct its answer (generate.ts), at most: the problem it names is bounded too. */
const CORRECTION_TOKENS = 512;

/**
 * At most how many tokens the prompt is: a token is at least one byte of UTF-8 in every tokenizer the providers
 * use, so the bytes (and a little for each message's framing, and the schema an answer must match) bound it.
 * Far above the real count for English (about 4 bytes a token): it is a worst case, settled with the real one.
 */
export function promptTokensAtMost(input: LlmInput): number {
  const bytes = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  const framing = 16;
  return bytes(input.prompt) + bytes(input.system) + (input.schema ? bytes(JSON.stringify(input.schema)) : 0) + framing * (input.system ? 2 : 1);
}
