/**
 * The JSON bodies the API takes, checked before anything is read or run: a wrong field is a 400 naming it,
 * never a throw further in. Values are data: inputs go to the run as typed input values, never into a path
 * (the workflow is a path under the root, confined separately) or a command.
 */
import { z } from 'zod';
import { HttpError } from './errors.ts';

/** The most YAML text a client may post (the largest workflow files we know are a few hundred KB). */
export const MAX_YAML_BYTES = 1_000_000;

const settings = {
  inputs: z.record(z.string(), z.unknown()).optional(),
  maxConcurrency: z.number().int().min(1).max(10_000).optional(),
  model: z.string().min(1).max(200).optional(),
  maxCost: z.number().positive().finite().optional(),
};

export const StartBody = z
  .object({
    workflow: z.string().min(1).max(4096).optional(),
    yaml: z.string().min(1).max(MAX_YAML_BYTES).optional(),
    ...settings,
  })
  .strict()
  .refine((body) => (body.workflow === undefined) !== (body.yaml === undefined), { message: 'give either `workflow` (a path under the root) or `yaml` (the text), not both and not neither' });

export const ResumeBody = z
  .object({
    from: z.string().min(1).max(200).optional(),
    ...settings,
  })
  .strict();

export type StartBody = z.infer<typeof StartBody>;
export type ResumeBody = z.infer<typeof ResumeBody>;

/** The request's JSON parsed and checked against `schema` (an empty body is `{}`). */
export async function readBody<T>(request: Request, schema: z.ZodType<T>, example: string): Promise<T> {
  const text = await request.text();
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'the body is not JSON', { hint: `send a JSON object, e.g. ${example}` });
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `\`${issue.path.join('.')}\`: ` : '';
    throw new HttpError(400, `${where}${issue.message}`, { hint: `e.g. ${example}` });
  }
  return parsed.data;
}
