/**
 * Data never chooses where data goes. An action declares the input keys that are destinations (`file`'s `path`,
 * `http`'s `url` and `headers`, `llm`'s `model`); when a step's output flows into one — a model answering
 * `../../../tmp/pwned`, or a URL of its choosing — the destination is *data-chosen*, and this is the
 * prompt-injection path of every LLM pipeline. Before the action runs, a data-chosen
 * - path must resolve, after `..` and symlinks, inside the workflow's folder or a folder in `config.files.allow`;
 *   and one the step would change (write, append, delete) may not be the workflow file, a folder holding it, one
 *   of those folders itself, or anything in a `.git` folder;
 * - URL must keep its scheme and host literal in the template (`https://api.example.com/items/${steps.x.output}`),
 *   and then every step value is URL-encoded into its place (and may not make a `.` or `..` path segment); or
 *   else its host must be in `config.http.allowHosts`. Every redirect is held to the same rule (ActionContext.confine);
 * - `Host`, `X-Forwarded-Host` or `Forwarded` header must name a host in `config.http.allowHosts`;
 * - model must keep its provider literal in the template (`openai:${steps.pick.output}`).
 * Anything else fails the step with `not_allowed` before a byte is written or sent. Destinations written in the
 * workflow, or built only from `${inputs.*}` and `${env.*}`, are the author's and are left alone.
 */
import { readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { ActionDefinition, DestinationKind } from '../actions/types.ts';
import { ConductorError } from '../core/errors.ts';
import type { Reference } from '../template/parse.ts';
import { resolveReference, resolveValue, stringify, type ReferenceLookup, type TemplateValue } from '../template/value.ts';

export type Destinations = Readonly<Record<string, DestinationKind>>;

/** What an action says about its destinations. */
export type DestinationRules = Pick<ActionDefinition, 'destinations' | 'changes'>;

export interface Confinement {
  /** The workflow's folder: relative paths resolve against it, and data-chosen ones must stay in it. */
  baseDir: string;
  /** More folders (absolute) a data-chosen path may point into (`config.files.allow`). */
  allowedDirs?: readonly string[] | undefined;
  /** Hosts (lower-case, `*.` for subdomains) a data-chosen URL may call (`config.http.allowHosts`). */
  allowedHosts?: readonly string[] | undefined;
  /** The workflow file: data may not change it, or a later `resume` would run what a model wrote. */
  workflowFile?: string | undefined;
  /**
   * The step is a `foreach` over a list a step's output made: its item (`${item}`) is data like the output it
   * came from. Over a list written in the workflow, the item is the author's.
   */
  itemIsData?: boolean | undefined;
}

/** A step's input with its data-chosen destinations confined. */
export interface ResolvedInput {
  value: unknown;
  /** For ActionContext.confine: holds a new destination for a key (a redirect's target) to the key's rule. */
  confine(key: string, value: string): void;
}

/** A data-chosen destination of a step, as known before the run (for `plan`). */
export interface DataChosen {
  /** The input key; for a header, `headers.<name>` as written. */
  key: string;
  kind: DestinationKind;
  /** The step references that choose it, as written (`${steps.x.output}`). */
  refs: string[];
  /** A URL whose scheme and host are literal before the first of them: the values are encoded into its path. */
  fixedHost?: string;
  /** A model whose provider is literal before the first of them. */
  fixedProvider?: string;
  /**
   * The text before the first of them when it holds the author's `${inputs.*}` or `${env.*}` (as written): the
   * run counts it as the author's, so the host or provider is fixed if its value writes one.
   */
  authorPrefix?: string;
}

/** `scheme://host` followed by the start of a path, query or fragment: after it, nothing can change the host. */
const FIXED_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/([^/?#\\]+)[/?#]/i;
/** `provider:` at the start of a model string: after it, nothing can change the provider. */
const FIXED_PROVIDER = /^\s*([^\s:]+):/;
/** Headers that tell a server (or the proxy in front of it) which host a request is for. */
const HOST_HEADERS = new Set(['host', 'x-forwarded-host', 'forwarded']);

/** Resolves a step's input, confining its data-chosen destinations. Throws `not_allowed` (a ConductorError). */
export async function resolveInput(input: TemplateValue, rules: DestinationRules, lookup: ReferenceLookup, where: Confinement): Promise<ResolvedInput> {
  const { destinations } = rules;
  if (!destinations || input.kind !== 'object') return { value: resolveValue(input, lookup), confine: () => {} };
  const out: Record<string, unknown> = {};
  const chosen: [string, DestinationKind, TemplateValue, string[]][] = [];
  for (const [key, value] of input.entries) {
    const kind = destinations[key];
    const refs = kind ? dataReferences(value, where.itemIsData) : [];
    out[key] = refs.length ? undefined : resolveValue(value, lookup); // data-chosen ones next, in their place
    if (kind && refs.length) chosen.push([key, kind, value, refs]);
  }
  const redirects = new Map<string, (to: string) => void>();
  for (const [key, kind, value, refs] of chosen) {
    switch (kind) {
      case 'path':
        // Whether the step changes what is there is the action's to say, from the rest of its input.
        out[key] = await confinePath(key, resolveValue(value, lookup), refs, where, rules.changes?.(out) ?? true);
        break;
      case 'url': {
        const { url, origin } = confineUrl(key, value, refs, lookup, where);
        out[key] = url;
        redirects.set(key, (to) => confineRedirect(key, to, refs, origin, where));
        break;
      }
      case 'headers':
        out[key] = confineHeaders(value, lookup, where);
        break;
      case 'model':
        out[key] = confineModel(key, value, refs, lookup, where.itemIsData);
        break;
    }
  }
  return { value: out, confine: (key, to) => redirects.get(key)?.(to) };
}

/** The destinations of a step that its block fills from step outputs. */
export function dataChosen(input: TemplateValue, destinations: Destinations | undefined, itemIsData = false): DataChosen[] {
  if (!destinations || input.kind !== 'object') return [];
  const out: DataChosen[] = [];
  for (const [key, value] of input.entries) {
    const kind = destinations[key];
    if (kind === 'headers' && value.kind === 'object') {
      for (const [name, v] of value.entries) {
        const refs = HOST_HEADERS.has(name.toLowerCase()) ? dataReferences(v, itemIsData) : [];
        if (refs.length) out.push({ key: `${key}.${name}`, kind, refs });
      }
      continue;
    }
    const refs = kind ? dataReferences(value, itemIsData) : [];
    if (!kind || refs.length === 0) continue;
    out.push({ key, kind, refs, ...(value.kind === 'concat' && (kind === 'url' || kind === 'model') ? prefixFacts(kind, value.parts, itemIsData) : {}) });
  }
  return out;
}

/** What the template's start says about a URL's host or a model's provider, before the run. */
function prefixFacts(kind: 'url' | 'model', parts: Parts, itemIsData: boolean): Pick<DataChosen, 'fixedHost' | 'fixedProvider' | 'authorPrefix'> {
  let literal = '';
  for (const p of parts) {
    if ('ref' in p) break;
    literal += p.text;
  }
  const fixed = (kind === 'url' ? FIXED_ORIGIN : FIXED_PROVIDER).exec(literal)?.[1];
  if (fixed) return kind === 'url' ? { fixedHost: fixed } : { fixedProvider: fixed };
  const first = parts.findIndex((p) => 'ref' in p && isData(p.ref, itemIsData));
  const before = parts.slice(0, first);
  if (!before.some((p) => 'ref' in p)) return {};
  return { authorPrefix: before.map((p) => ('text' in p ? p.text : p.raw)).join('') };
}

/** A reference to data: a step's output, or the item of a foreach over one. */
function isData(ref: Reference, itemIsData: boolean | undefined): boolean {
  return ref.root === 'steps' || (ref.root === 'item' && itemIsData === true);
}

/** The `${steps.…}` references in a value, as written (and `${item}` when it is data): any makes a destination data-chosen. */
function dataReferences(value: TemplateValue, itemIsData: boolean | undefined): string[] {
  switch (value.kind) {
    case 'literal':
      return [];
    case 'single':
      return isData(value.ref, itemIsData) ? [value.raw] : [];
    case 'concat':
      return value.parts.flatMap((p) => ('ref' in p && isData(p.ref, itemIsData) ? [p.raw] : []));
    case 'array':
      return value.items.flatMap((v) => dataReferences(v, itemIsData));
    case 'object':
      return value.entries.flatMap(([, v]) => dataReferences(v, itemIsData));
  }
}

type Parts = Extract<TemplateValue, { kind: 'concat' }>['parts'];

/** The text before the first step reference, the author's own values (inputs, environment) resolved into it. */
function authorPrefix(parts: Parts, lookup: ReferenceLookup, itemIsData: boolean | undefined): string {
  const first = parts.findIndex((p) => 'ref' in p && isData(p.ref, itemIsData));
  return parts
    .slice(0, first)
    .map((p) => ('text' in p ? p.text : stringify(resolveReference(p.ref, p.raw, lookup))))
    .join('');
}

// ---- paths ----

async function confinePath(key: string, value: unknown, refs: string[], where: Confinement, changes: boolean): Promise<unknown> {
  if (typeof value !== 'string' || value === '') return value; // the action's schema refuses it next
  const target = resolve(where.baseDir, value);
  let real: string;
  try {
    real = await realLocation(target);
  } catch (error) {
    throw refused(`the ${key} \`${clip(target)}\` chosen by ${refs.join(', ')} cannot be checked (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'config.files.allow', error);
  }
  const roots = await Promise.all([where.baseDir, ...(where.allowedDirs ?? [])].map(async (dir) => ({ dir, real: await realLocation(dir).catch(() => resolve(dir)) })));
  const root = roots.find((r) => within(real, r.real));
  if (!root) {
    const through = real === target ? '' : ` (through a symlink, it is \`${clip(real)}\`)`;
    const outside = where.allowedDirs?.length
      ? `is outside the workflow's folder and the folders in \`config.files.allow\``
      : `is outside the workflow's folder (${where.baseDir}), and \`config.files.allow\` lists no other`;
    throw refused(`the ${key} \`${clip(target)}\`${through}, chosen by ${refs.join(', ')}, ${outside}`, 'config.files.allow');
  }
  if (!changes) return value;
  const problem = await untouchable(real, root.real, roots, where.workflowFile);
  if (problem === undefined) return value;
  throw new ConductorError('not_allowed', `the ${key} \`${clip(target)}\`, chosen by ${refs.join(', ')}, ${problem}: a step's output may not write, append to or delete it`, {
    hint: "a step's output may change files below those folders, never the workflow file, the folders themselves or a `.git` folder; if this is meant, write the path into the workflow",
  });
}

/**
 * Why a path a step would change must be left alone: the workflow file (a later `resume` runs it) or a folder
 * holding it, an allowed folder itself (deleting `.` removes everything), or a repository's `.git`.
 */
async function untouchable(real: string, root: string, roots: { dir: string; real: string }[], workflowFile: string | undefined): Promise<string | undefined> {
  const named = (r: { dir: string }) => (r === roots[0] ? "the workflow's folder" : `\`${r.dir}\`, a folder \`config.files.allow\` lists`);
  const listed = roots.find((r) => r.real === real);
  if (listed) return `is ${named(listed)}`;
  if (workflowFile !== undefined) {
    const file = await realLocation(resolve(workflowFile)).catch(() => resolve(workflowFile));
    if (file === real) return 'is the workflow file';
    if (within(file, real)) return `holds the workflow file (${file})`;
  }
  const holds = roots.find((r) => within(r.real, real));
  if (holds) return `holds ${named(holds)}`;
  if (relative(root, real).split(sep).some((part) => part.toLowerCase() === '.git')) return 'is a `.git` folder or inside one';
  return undefined;
}

/** `path` is `dir` or below it. */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
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

// ---- URLs, redirects and host headers ----

/** The URL, and the origin its template fixes (a redirect may stay on it). */
function confineUrl(key: string, value: TemplateValue, refs: string[], lookup: ReferenceLookup, where: Confinement): { url: unknown; origin?: string } {
  if (value.kind === 'concat') {
    // The author's own values (inputs, environment) may write the origin; a step's value may not.
    const fixed = FIXED_ORIGIN.exec(authorPrefix(value.parts, lookup, where.itemIsData));
    if (fixed) {
      const { url, data } = encodeSteps(value.parts, lookup, where.itemIsData);
      const segment = dotSegment(url, fixed[0].length - 1, data);
      if (segment !== undefined) {
        throw new ConductorError('not_allowed', `the ${key} \`${clip(url)}\`: ${refs.join(', ')} makes the path segment \`${segment}\`, which would climb the path the template fixes`, {
          hint: 'no server can be sent a segment named `.` or `..` (encoded or not, they mean "this folder" and "the folder above"): check the value before the step, or pass it as a query parameter',
        });
      }
      return { url, origin: originOf(fixed[0]) };
    }
  }
  const url = resolveValue(value, lookup);
  if (typeof url !== 'string') return { url }; // the action's schema refuses it next
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refused(`the ${key} \`${clip(url)}\` chosen by ${refs.join(', ')} is not a URL whose host can be checked`, 'config.http.allowHosts');
  }
  if (hostAllowed(parsed, where.allowedHosts ?? [])) return { url };
  const host = bare(parsed.hostname);
  throw new ConductorError(
    'not_allowed',
    `the ${key} \`${clip(url)}\`, chosen by ${refs.join(', ')}, calls host \`${host}\`, which \`config.http.allowHosts\` does not list: a step's output may not choose where a request goes`,
    { hint: `write the scheme and host into the template (\`${parsed.protocol}//${parsed.host}/…/${refs[0]}\`: the value is then URL-encoded into the path), or add \`${host}\` to \`config.http.allowHosts\`` },
  );
}

/** The URL with every step value URL-encoded into its place, and where those values are in it. */
function encodeSteps(parts: Parts, lookup: ReferenceLookup, itemIsData: boolean | undefined): { url: string; data: [number, number][] } {
  let url = '';
  const data: [number, number][] = [];
  for (const p of parts) {
    if ('text' in p) url += p.text;
    else if (!isData(p.ref, itemIsData)) url += stringify(resolveReference(p.ref, p.raw, lookup));
    else {
      const text = encodeURIComponent(stringify(resolveReference(p.ref, p.raw, lookup)));
      data.push([url.length, url.length + text.length]);
      url += text;
    }
  }
  return { url, data };
}

/**
 * A `.` or `..` path segment that a step's value is part of, if any. Encoding cannot help there: URL parsers
 * (the client's, the server's) read `%2E%2E` as `..` too, so the only safe segment is one that is not a dot.
 */
function dotSegment(url: string, pathStart: number, data: [number, number][]): string | undefined {
  const end = url.slice(pathStart).search(/[?#]/);
  const path = end === -1 ? url.slice(pathStart) : url.slice(pathStart, pathStart + end);
  let at = pathStart;
  for (const segment of path.split(/[/\\]/)) {
    const from = at;
    at += segment.length + 1;
    if (!/^(?:\.|%2e){1,2}$/i.test(segment)) continue;
    if (data.some(([a, b]) => a < from + segment.length && b > from)) return segment;
  }
  return undefined;
}

function originOf(prefix: string): string | undefined {
  try {
    return new URL(prefix).origin;
  } catch {
    return undefined; // the action refuses a URL that does not parse
  }
}

/** A redirect of a data-chosen URL: to the origin the template fixes, or to a host in allowHosts. */
function confineRedirect(key: string, to: string, refs: string[], origin: string | undefined, where: Confinement): void {
  let parsed: URL;
  try {
    parsed = new URL(to);
  } catch {
    throw refused(`the ${key} chosen by ${refs.join(', ')} was redirected to \`${clip(to)}\`, which is not a URL whose host can be checked`, 'config.http.allowHosts');
  }
  const allowed = where.allowedHosts ?? [];
  if ((origin !== undefined && parsed.origin === origin) || hostAllowed(parsed, allowed)) return;
  const host = hostLabel(parsed, allowed);
  throw new ConductorError(
    'not_allowed',
    `the ${key} chosen by ${refs.join(', ')} was redirected to \`${clip(to)}\`${origin ? `, off ${origin}, the origin its template fixes, and` : ','} to host \`${host}\`, which \`config.http.allowHosts\` does not list: a step's output may not choose where a request goes`,
    { hint: `if the API may send the request there, add \`${host}\` to \`config.http.allowHosts\`` },
  );
}

/** A data-chosen `headers` map: the entries that name a host must name one in allowHosts. */
function confineHeaders(value: TemplateValue, lookup: ReferenceLookup, where: Confinement): unknown {
  const headers = resolveValue(value, lookup);
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return headers; // the schema refuses it next
  // Written as a map, only its entries with step values are data-chosen; a map from a step is all data-chosen.
  const chosen = value.kind === 'object' ? new Map(value.entries.map(([name, v]) => [name, dataReferences(v, where.itemIsData)])) : undefined;
  for (const [name, v] of Object.entries(headers)) {
    const refs = chosen ? (chosen.get(name) ?? []) : dataReferences(value, where.itemIsData);
    if (!HOST_HEADERS.has(name.toLowerCase()) || refs.length === 0) continue;
    const text = stringify(v);
    for (const host of hostsNamed(name.toLowerCase(), text)) {
      let parsed: URL | undefined;
      try {
        parsed = /^[^\s/\\@?#]+$/.test(host) ? new URL(`http://${host}/`) : undefined;
      } catch {
        parsed = undefined;
      }
      const allowed = where.allowedHosts ?? [];
      if (parsed && hostAllowed(parsed, allowed)) continue;
      const shown = parsed ? hostLabel(parsed, allowed) : clip(host);
      throw new ConductorError(
        'not_allowed',
        `the ${name} header \`${clip(text)}\`, chosen by ${refs.join(', ')}, names host \`${shown}\`, which \`config.http.allowHosts\` does not list: a step's output may not choose where a request goes`,
        { hint: `write the header's value into the workflow, or add \`${shown}\` to \`config.http.allowHosts\`` },
      );
    }
  }
  return headers;
}

/** The hosts a header value names: `Host` one, `X-Forwarded-Host` a list, `Forwarded` its `host=` parameters. */
function hostsNamed(name: string, text: string): string[] {
  if (name === 'host') return [text.trim()];
  if (name === 'x-forwarded-host') return text.split(',').map((h) => h.trim());
  return [...text.matchAll(/(?:^|[;,])\s*host\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,\s]*))/gi)].map((m) => (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
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

/** A host as a message names it: with its port when allowHosts pins ports for that name. */
function hostLabel(url: URL, allowed: readonly string[]): string {
  const host = bare(url.hostname);
  return url.port && allowed.some((e) => e.toLowerCase().startsWith(`${url.hostname.toLowerCase()}:`)) ? url.host.toLowerCase() : host;
}

/** A host name as compared: lower-case, no IPv6 brackets, no trailing root dot. */
function bare(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

// ---- models ----

/** A data-chosen model: its provider (where the prompt goes) must be written before the step value. */
function confineModel(key: string, value: TemplateValue, refs: string[], lookup: ReferenceLookup, itemIsData: boolean | undefined): unknown {
  if (value.kind === 'concat' && FIXED_PROVIDER.test(authorPrefix(value.parts, lookup, itemIsData))) return resolveValue(value, lookup);
  const model = stringify(resolveValue(value, lookup));
  throw new ConductorError('not_allowed', `the ${key} \`${clip(model)}\`, chosen by ${refs.join(', ')}, does not keep its provider in the template: a step's output may not choose where a prompt goes`, {
    hint: `write the provider before it (\`openai:${refs[0]}\`, or the provider meant): the value then picks a model of that provider only`,
  });
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
