/**
 * `file`: read and write files, and find them by pattern. Relative paths resolve against the workflow file's
 * folder. Writes are atomic (a temporary file in the same folder, then a rename), so a reader never sees half a
 * file. `glob` lists the files a pattern matches (glob.ts says which count).
 */
import { randomBytes } from 'node:crypto';
import { readFile as readFileCallback } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { z } from 'zod';
import { StepFailedError } from '../../core/errors.ts';
import { stringify } from '../../template/value.ts';
import type { ActionDefinition, Resource, StaticContext } from '../types.ts';
import { globFiles } from './glob.ts';
import { anyPath, matchesFile, mayHoldMatches, patternProblem, patternShape } from './pattern.ts';

const FILE_ACTIONS = ['read', 'write', 'append', 'exists', 'list', 'delete', 'glob'] as const;
type FileOp = (typeof FILE_ACTIONS)[number];
/** The operations that only look; any other (an unknown one too) may change what is at its path. */
const LOOKS: ReadonlySet<FileOp> = new Set(['read', 'exists', 'list', 'glob']);

const schema = z
  .strictObject({
    action: z
      .enum(FILE_ACTIONS, { error: `expected one of ${FILE_ACTIONS.join(', ')}` })
      .describe('What to do: `read` (output: the text), `write` or `append` `content`, `exists` (true or false), `list` a folder, `delete`, `glob` (the files a `pattern` matches).')
      .meta({ examples: ['read'] }),
    // One of these two, as the action says (below): zod cannot make a key's presence depend on another's value.
    path: z
      .string({ error: 'expected a path (a string)' })
      .min(1, 'expected a non-empty path')
      .optional()
      .describe('The file or folder, relative to the workflow file (every action but `glob`).')
      .meta({ examples: ['out/summary.md'] }),
    pattern: z
      .string({ error: 'expected a glob pattern (a string, such as `notes/*.txt`)' })
      .min(1, 'expected a non-empty pattern')
      .optional()
      .describe(
        'For `glob`: a pattern relative to the workflow file (`notes/*.txt`, `**/*.md`). Output: the matching files (never folders) as sorted paths relative to the workflow file; `*` and `**` skip dot files unless the pattern spells the dot; `.git` and anything outside the folder (symlinks too) are left out.',
      )
      .meta({ examples: ['notes/*.txt'] }),
    content: z.unknown().optional().describe('For `write` and `append`: what to write; a value that is not a string is written as JSON.').meta({ examples: ['${steps.combine.output}'] }),
  })
  .superRefine((block, ctx) => {
    if (block.action === 'glob') {
      if (block.pattern === undefined) {
        // As a missing key is reported by zod itself, so a misspelt `patern` is told once, as a typo.
        ctx.addIssue({ code: 'invalid_type', expected: 'string', input: undefined, path: ['pattern'], message: 'expected a glob pattern (a string, such as `notes/*.txt`)' });
      } else {
        const problem = patternProblem(block.pattern);
        if (problem) ctx.addIssue({ code: 'custom', path: ['pattern'], message: problem });
      }
      if (block.path !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['path'], message: '`path` is not used by `glob`: write the folder into `pattern` (`notes/*.txt`)', params: { code: 'unknown_key' } });
      }
    } else {
      if (block.path === undefined) {
        ctx.addIssue({ code: 'invalid_type', expected: 'string', input: undefined, path: ['path'], message: 'expected a path (a string)' });
      }
      if (block.pattern !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['pattern'], message: `\`pattern\` is only used by \`glob\`, not \`${block.action}\`${block.path === undefined ? ': did you mean `action: glob`?' : ''}`, params: { code: 'unknown_key' } });
      }
    }
    const writes = block.action === 'write' || block.action === 'append';
    if (writes && block.content === undefined) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `a \`${block.action}\` needs \`content\``, params: { code: 'missing_key' } });
    }
    if (!writes && block.content !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `\`content\` is only used by \`write\` and \`append\`, not \`${block.action}\`` });
    }
  })
  // The JSON Schema cannot see the refinement: say in it which key each action takes, so editors flag it too.
  .meta({
    if: { properties: { action: { const: 'glob' } }, required: ['action'] },
    then: { required: ['pattern'], not: { required: ['path'] } },
    else: { required: ['path'], not: { required: ['pattern'] } },
  });

export type FileInput = { action: FileOp; path?: string; pattern?: string; content?: unknown };

export const fileAction: ActionDefinition<FileInput> = {
  name: 'file',
  description: 'Read, write, append, list, check or delete a file, or `glob` the files a pattern matches (paths relative to the workflow file).',
  schema: schema as z.ZodType<FileInput>,
  version: 1,
  resources: (block, ctx) => fileResources(block, ctx),
  calls: [
    { kind: 'fileWrites', noun: 'file write' },
    { kind: 'fileReads', noun: 'file read' },
  ],
  callOf: (block) => (LOOKS.has(block['action'] as FileOp) || block['action'] === undefined ? 'fileReads' : 'fileWrites'),
  // A path a step's output chooses is confined to the workflow's folder by the engine (scheduler/confine.ts);
  // one that a write, an append or a delete would change is kept off the workflow itself, roots and `.git`. A
  // pattern is confined the same way: its literal folder must lead inside (through symlinks too); glob.ts
  // keeps the matches inside the workflow's folder whatever the pattern spells.
  destinations: { path: 'path', pattern: 'path' },
  changes: (input) => !LOOKS.has(input['action'] as FileOp),
  describe: (input) => `${input.action} ${input.action === 'glob' ? input.pattern : input.path}`,
  // A local read or write: about a millisecond.
  typicalMs: 1,
  async run(input, ctx) {
    ctx.signal.throwIfAborted();
    if (input.action === 'glob') {
      const pattern = input.pattern!;
      try {
        return { output: await globFiles(ctx.baseDir, pattern, ctx.signal) };
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        throw new StepFailedError(ctx.stepId, 'file_error', `glob ${pattern} in ${ctx.baseDir}: ${explain(error as NodeJS.ErrnoException)}`, { cause: error });
      }
    }
    const path = resolve(ctx.baseDir, input.path!);
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
 * Paths that are still templates are keyed by their text, so two identical templates are ordered too. A glob
 * reads sets of these keys (globResources).
 */
export function fileResources(block: Record<string, unknown>, ctx: StaticContext): Resource[] {
  const { baseDir } = ctx;
  const op = block['action'];
  if (op === 'glob') return typeof block['pattern'] === 'string' ? globResources(block['pattern'], baseDir) : [];
  const raw = block['path'];
  if (typeof raw !== 'string' || typeof op !== 'string' || !(FILE_ACTIONS as readonly string[]).includes(op)) return [];
  const written = ctx.written(raw);
  if (written) {
    // A path holding a step's output is only known once that step has run. One built from the item of a list
    // (even a list a step made) is the same text in every step over that list: keyed by it, so a write and a
    // read of `out/${item}.md` are ordered.
    if (written.refs.some((r) => r.root === 'steps')) return [];
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

/**
 * What a glob reads: every file below its literal folder that the pattern matches (so it runs after earlier
 * writes, appends and deletes of a match, and later ones wait for it), every path below whose deletion could
 * remove a match, and the folder and its ancestors as a whole (deleting `notes` empties `notes/*.txt`).
 * Writers of files it does not match stay parallel to it. A pattern with a reference is only known at run time:
 * it is taken to match everything below its literal folder, the safe side (`${inputs.dir}/*.txt` is ordered
 * against every writer in the workflow's folder; a glob never leaves it).
 */
export function globResources(pattern: string, baseDir: string): Resource[] {
  const shape = patternShape(pattern);
  if (patternProblem(pattern) !== undefined) return []; // refused by the schema
  const folder = resolve(baseDir, ...shape.folder);
  const below = folder.endsWith(sep) ? folder : folder + sep;
  const label = `glob ${below}${shape.rest}`;
  const out: Resource[] = [
    { key: `file:${below}`, mode: 'read', label, match: shape.templated ? anyPath : matchesFile(shape.rest) },
    { key: `tree:${below}`, mode: 'read', label, match: shape.templated ? anyPath : mayHoldMatches(shape.rest) },
  ];
  for (let d = folder; ; d = dirname(d)) {
    out.push({ key: `tree:${d}`, mode: 'read', label });
    if (dirname(d) === d) return out;
  }
}
