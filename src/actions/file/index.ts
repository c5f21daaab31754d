/**
 * `file`: read and write files. Relative paths resolve against the workflow file's folder. Writes are atomic
 * (a temporary file in the same folder, then a rename), so a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { readFile as readFileCallback } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { StepFailedError } from '../../core/errors.ts';
import { stringify } from '../../template/value.ts';
import { isTemplate } from '../templated.ts';
import type { ActionDefinition, Resource } from '../types.ts';

const FILE_ACTIONS = ['read', 'write', 'append', 'exists', 'list', 'delete'] as const;
type FileOp = (typeof FILE_ACTIONS)[number];
/** The operations that only look at their path; any other (an unknown one too) may change what is there. */
const LOOKS: ReadonlySet<FileOp> = new Set(['read', 'exists', 'list']);

const schema = z
  .strictObject({
    action: z.enum(FILE_ACTIONS, { error: `expected one of ${FILE_ACTIONS.join(', ')}` }),
    path: z.string({ error: 'expected a path (a string)' }).min(1, 'expected a non-empty path'),
    content: z.unknown().optional(),
  })
  .superRefine((block, ctx) => {
    const writes = block.action === 'write' || block.action === 'append';
    if (writes && block.content === undefined) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `a \`${block.action}\` needs \`content\``, params: { code: 'missing_key' } });
    }
    if (!writes && block.content !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `\`content\` is only used by \`write\` and \`append\`, not \`${block.action}\`` });
    }
  });

export type FileInput = { action: FileOp; path: string; content?: unknown };

export const fileAction: ActionDefinition<FileInput> = {
  name: 'file',
  description: 'Read, write, append, list, check or delete a file (paths relative to the workflow file).',
  schema: schema as z.ZodType<FileInput>,
  version: 1,
  resources: (block, { baseDir }) => fileResources(block, baseDir),
  // A path a step's output chooses is confined to the workflow's folder by the engine (scheduler/confine.ts);
  // one that a write, an append or a delete would change is kept off the workflow itself, roots and `.git`.
  destinations: { path: 'path' },
  changes: (input) => !LOOKS.has(input['action'] as FileOp),
  describe: (input) => `${input.action} ${input.path}`,
  // A local read or write: about a millisecond.
  typicalMs: 1,
  async run(input, ctx) {
    const path = resolve(ctx.baseDir, input.path);
    ctx.signal.throwIfAborted();
    try {
      switch (input.action) {
        case 'read':
          return { output: await readText(path, ctx.signal) };
        case 'write':
          await writeAtomically(path, contentText(input.content), ctx.signal);
          return { output: path };
        case 'append': {
          // Append by rewriting atomically: the file is never seen half-appended.
          const existing = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? '' : Promise.reject(e)));
          await writeAtomically(path, existing + contentText(input.content), ctx.signal);
          return { output: path };
        }
        case 'exists':
          return { output: await access(path).then(() => true, () => false) };
        case 'list':
          return { output: (await readdir(path)).sort() };
        case 'delete': {
          const existed = await access(path).then(() => true, () => false);
          await rm(path, { recursive: true, force: true });
          return { output: existed };
        }
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      throw new StepFailedError(ctx.stepId, 'file_error', `${input.action} ${path}: ${explain(error as NodeJS.ErrnoException)}`, { cause: error });
    }
  },
};

/**
 * The callback form of readFile: for small files it takes about half the time of the promise form (fewer
 * trips through the thread pool), which is most of a `read` step's cost.
 */
function readText(path: string, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => readFileCallback(path, { encoding: 'utf8', signal }, (error, text) => (error ? reject(error) : resolve(text))));
}

function contentText(content: unknown): string {
  // A field that is one reference keeps its type; a file holds text, so objects are written as readable JSON.
  if (content !== null && typeof content === 'object') return JSON.stringify(content, null, 2) + '\n';
  return stringify(content);
}

async function writeAtomically(path: string, text: string, signal: AbortSignal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { signal });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function explain(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a folder, not a file';
    case 'ENOTDIR':
      return 'not a folder';
    default:
      return error.message;
  }
}

/**
 * What a file step touches, for ordering steps that share a path. Keys:
 * - `file:P`    the file itself (read by read/exists/list, written by write/append/delete);
 * - `entries:D` the names in folder D (read by list D; added to by creating or deleting anything in D, and
 *               two additions commute, so writers of different files in one folder still run in parallel);
 * - `tree:P`    P and everything below it (written by delete P, read by any access at or below P).
 * Paths that are still templates are keyed by their text, so two identical templates are ordered too.
 */
export function fileResources(block: Record<string, unknown>, baseDir: string): Resource[] {
  const op = block['action'];
  const raw = block['path'];
  if (typeof raw !== 'string' || typeof op !== 'string' || !(FILE_ACTIONS as readonly string[]).includes(op)) return [];
  if (isTemplate(raw)) {
    if (raw.includes('${steps.')) return []; // only known once an earlier step has run
    const reads = op === 'read' || op === 'exists' || op === 'list';
    return [{ key: `file:${raw}`, mode: reads ? 'read' : 'write', label: `file ${raw}` }];
  }
  const path = isAbsolute(raw) ? resolve(raw) : resolve(baseDir, raw);
  const label = `file ${path}`;
  const out: Resource[] = [];
  const ancestors = (p: string): string[] => {
    const list: string[] = [];
    for (let d = dirname(p); ; d = dirname(d)) {
      list.push(d);
      if (dirname(d) === d) return list;
    }
  };
  const readTree = (from: string[]) => from.forEach((p) => out.push({ key: `tree:${p}`, mode: 'read', label }));
  switch (op as FileOp) {
    case 'read':
    case 'exists':
      out.push({ key: `file:${path}`, mode: 'read', label });
      readTree([path, ...ancestors(path)]);
      break;
    case 'list':
      out.push({ key: `file:${path}`, mode: 'read', label }, { key: `entries:${path}`, mode: 'read', label });
      readTree([path, ...ancestors(path)]);
      break;
    case 'write':
    case 'append':
      out.push({ key: `file:${path}`, mode: 'write', label }, { key: `entries:${dirname(path)}`, mode: 'add', label });
      readTree([path, ...ancestors(path)]);
      break;
    case 'delete':
      out.push(
        { key: `file:${path}`, mode: 'write', label },
        { key: `entries:${dirname(path)}`, mode: 'add', label },
        { key: `tree:${path}`, mode: 'write', label },
      );
      readTree(ancestors(path));
      break;
  }
  return out;
}
