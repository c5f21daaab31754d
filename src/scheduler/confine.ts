/**
 * Data never chooses where data goes. An action declares the input keys that are destinations (`file`'s `path`,
 * `http`'s `url`); when a step's output flows into one — a model answering `../../../tmp/pwned`, or a URL of its
 * choosing — the destination is *data-chosen*, and this is the prompt-injection path of every LLM pipeline.
 * Before the action runs, a data-chosen
 * - path must resolve, after `..` and symlinks, inside the workflow's folder or a folder in `config.files.allow`;
 * - URL must keep its scheme and host literal in the template (`https://api.example.com/items/${steps.x.output}`),
 *   and then every step value is URL-encoded into its place; or else its host must be in `config.http.allowHosts`.
 * Anything else fails the step with `not_allowed` before a byte is written or sent. Destinations written in the
 * workflow, or built only from `${inputs.*}` and `${env.*}`, are the author's and are left alone.
 */
import { readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ConductorError } from '../core/errors.ts';
import { resolveEncoded, resolveReference, resolveValue, stringify, type ReferenceLookup, type TemplateValue } from '../template/value.ts';

export type Destinations = Readonly<Record<string, 'path' | 'url'>>;

export interface Confinement {
  /** The workflow's folder: relative paths resolve against it, and data-chosen ones must stay in it. */
  baseDir: string;
  /** More folders (absolute) a data-chosen path may point into (`config.files.allow`). */
  allowedDirs?: readonly string[] | undefined;
  /** Hosts (lower-case, `*.` for subdomains) a data-chosen URL may call (`config.http.allowHosts`). */
  allowedHosts?: readonly string[] | undefined;
}

/** A data-chosen destination of a step, as known before the run (for `plan`). */
export interface DataChosen {
  key: string;
  kind: 'path' | 'url';
  /** The step references that choose it, as written (`${steps.x.output}`). */
  refs: string[];
  /** A URL whose scheme and host are literal before the first of them: the values are encoded into its path. */
  fixedHost?: string;
}

/** `scheme://host` followed by the start of a path, query or fragment: after it, nothing can change the host. */
const FIXED_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/([^/?#\\]+)[/?#]/i;

/** Resolves a step's input, confining its data-chosen destinations. Throws `not_allowed` (a ConductorError). */
export async function resolveInput(input: TemplateValue, destinations: Destinations | undefined, lookup: ReferenceLookup, where: Confinement): Promise<unknown> {
  if (!destinations || input.kind !== 'object') return resolveValue(input, lookup);
  const out: Record<string, unknown> = {};
  for (const [key, value] of input.entries) {
    const kind = destinations[key];
    const refs = kind ? dataReferences(value) : [];
    if (!kind || refs.length === 0) out[key] = resolveValue(value, lookup);
    else if (kind === 'path') out[key] = await confinePath(key, resolveValue(value, lookup), refs, where);
    else out[key] = confineUrl(key, value, refs, lookup, where);
  }
  return out;
}

/** The destinations of a step that its block fills from step outputs. */
export function dataChosen(input: TemplateValue, destinations: Destinations | undefined): DataChosen[] {
  if (!destinations || input.kind !== 'object') return [];
  const out: DataChosen[] = [];
  for (const [key, value] of input.entries) {
    const kind = destinations[key];
    const refs = kind ? dataReferences(value) : [];
    if (!kind || refs.length === 0) continue;
    const host = kind === 'url' && value.kind === 'concat' ? FIXED_ORIGIN.exec(literalPrefix(value.parts))?.[1] : undefined;
    out.push({ key, kind, refs, ...(host ? { fixedHost: host } : {}) });
  }
  return out;
}

/** The `${steps.…}` references in a value, as written: any of them makes a destination data-chosen. */
function dataReferences(value: TemplateValue): string[] {
  switch (value.kind) {
    case 'literal':
      return [];
    case 'single':
      return value.ref.root === 'steps' ? [value.raw] : [];
    case 'concat':
      return value.parts.flatMap((p) => ('ref' in p && p.ref.root === 'steps' ? [p.raw] : []));
    case 'array':
      return value.items.flatMap(dataReferences);
    case 'object':
      return value.entries.flatMap(([, v]) => dataReferences(v));
  }
}

type Parts = Extract<TemplateValue, { kind: 'concat' }>['parts'];

/** The literal text before the first reference (what `plan` can know of a URL's origin). */
function literalPrefix(parts: Parts): string {
  let text = '';
  for (const p of parts) {
    if ('ref' in p) break;
    text += p.text;
  }
  return text;
}

async function confinePath(key: string, value: unknown, refs: string[], where: Confinement): Promise<unknown> {
  if (typeof value !== 'string' || value === '') return value; // the action's schema refuses it next
  const target = resolve(where.baseDir, value);
  let real: string;
  try {
    real = await realLocation(target);
  } catch (error) {
    throw refused(`the ${key} \`${clip(target)}\` chosen by ${refs.join(', ')} cannot be checked (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'config.files.allow', error);
  }
  for (const root of [where.baseDir, ...(where.allowedDirs ?? [])]) {
    const realRoot = await realLocation(root).catch(() => resolve(root));
    if (real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return value;
  }
  const through = real === target ? '' : ` (through a symlink, it is \`${clip(real)}\`)`;
  const outside = where.allowedDirs?.length
    ? `is outside the workflow's folder and the folders in \`config.files.allow\``
    : `is outside the workflow's folder (${where.baseDir}), and \`config.files.allow\` lists no other`;
  throw refused(`the ${key} \`${clip(target)}\`${through}, chosen by ${refs.join(', ')}, ${outside}`, 'config.files.allow');
}

/**
 * Where a path really leads: the real path of its deepest existing ancestor (symlinks followed, dangling ones
 * too), with the rest appended. `target` is absolute and already free of `..`, as the action will use it.
 */
async function realLocation(target: string, hops = 0): Promise<string> {
  try {
    return await realpath(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  // A dangling symlink still decides where a write through it lands: follow it by hand.
  const link = await readlink(target).catch(() => undefined);
  if (link !== undefined) {
    if (hops >= 40) throw Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' });
    return realLocation(resolve(dirname(target), link), hops + 1);
  }
  const parent = dirname(target);
  if (parent === target) return target;
  return join(await realLocation(parent, hops), basename(target));
}

function confineUrl(key: string, value: TemplateValue, refs: string[], lookup: ReferenceLookup, where: Confinement): unknown {
  if (value.kind === 'concat') {
    // The author's own values (inputs, environment) may write the origin; a step's value may not.
    const first = value.parts.findIndex((p) => 'ref' in p && p.ref.root === 'steps');
    const prefix = value.parts
      .slice(0, first)
      .map((p) => ('text' in p ? p.text : stringify(resolveReference(p.ref, p.raw, lookup))))
      .join('');
    if (FIXED_ORIGIN.test(prefix)) return resolveEncoded(value, lookup, (text, ref) => (ref.root === 'steps' ? encodeURIComponent(text) : text));
  }
  const url = resolveValue(value, lookup);
  if (typeof url !== 'string') return url; // the action's schema refuses it next
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refused(`the ${key} \`${clip(url)}\` chosen by ${refs.join(', ')} is not a URL whose host can be checked`, 'config.http.allowHosts');
  }
  if (hostAllowed(parsed, where.allowedHosts ?? [])) return url;
  const host = bare(parsed.hostname);
  throw new ConductorError(
    'not_allowed',
    `the ${key} \`${clip(url)}\`, chosen by ${refs.join(', ')}, calls host \`${host}\`, which \`config.http.allowHosts\` does not list: a step's output may not choose where a request goes`,
    { hint: `write the scheme and host into the template (\`https://${host}/…/${refs[0]}\`: the value is then URL-encoded into the path), or add \`${host}\` to \`config.http.allowHosts\`` },
  );
}

/** Exact names (a `host:port` entry pins the port too) and `*.example.com` for any subdomain of example.com. */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  const host = bare(url.hostname);
  const withPort = url.host.toLowerCase();
  return allowed.some((entry) => {
    const e = entry.toLowerCase().replace(/\.$/, '');
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
    return bare(e) === host || e === withPort;
  });
}

/** A host name as compared: lower-case, no IPv6 brackets, no trailing root dot. */
function bare(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

function refused(message: string, key: string, cause?: unknown): ConductorError {
  const hint =
    key === 'config.files.allow'
      ? 'if the step may write or read there, list that folder in `config.files.allow`'
      : 'write the scheme and host into the template, or list the host in `config.http.allowHosts`';
  return new ConductorError('not_allowed', message, { hint, ...(cause === undefined ? {} : { cause }) });
}

/** A value from a step's output in a message: long ones are cut. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
