/**
 * docs/language.md's key tables, from the workflow JSON Schema (`conductor schema`), which is generated from the
 * zod definitions the validator uses: a key the validator knows is a row here, with its type, default,
 * description and an example. A key without a description or an example stops the generator.
 */
import { stringify } from 'yaml';
import { cell, code, type Marker } from './markers.ts';

type Json = Record<string, any>;

interface Row {
  key: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  example: string;
}

const TEMPLATE_PATTERN = '\\$\\{';

/** The sections a page may ask for: `keys workflow`, `keys inputs`, `keys config`, `keys step`, `keys action <name>`. */
export function languageBlock(marker: Marker, schema: Json, actionNames: readonly string[]): string {
  if (marker.kind !== 'keys') throw new Error(`unknown generated block \`${marker.kind}\` in docs/language.md`);
  const [section, name] = marker.args;
  const top = schema['properties'] as Json;
  const step = top['steps']['items'] as Json;
  switch (section) {
    case 'workflow':
      return table(rowsOf(top, schema['required'] ?? [], '', { flat: true }));
    case 'inputs':
      return table(rowsOf(top['inputs']['additionalProperties']['properties'], [], 'inputs.<name>.'));
    case 'config':
      return table(rowsOf(top['config']['properties'], [], 'config.'));
    case 'step': {
      const common = Object.fromEntries(Object.entries(step['properties'] as Json).filter(([key]) => !actionNames.includes(key)));
      return table(rowsOf(common, step['required'] ?? [], ''));
    }
    case 'action': {
      const block = step['properties'][name ?? ''] as Json | undefined;
      if (!block) throw new Error(`docs/language.md asks for action \`${name}\`, which is not one (actions: ${actionNames.join(', ')})`);
      return `${block['description']}\n\n${table(rowsOf(block['properties'], block['required'] ?? [], `${name}.`))}`;
    }
    default:
      throw new Error(`docs/language.md: unknown key section \`${section}\``);
  }
}

/** The sections every version of the page must have, so a new action cannot go undocumented. */
export function requiredLanguageBlocks(actionNames: readonly string[]): string[] {
  return ['keys workflow', 'keys inputs', 'keys config', 'keys step', ...actionNames.map((a) => `keys action ${a}`)];
}

function rowsOf(properties: Json, required: readonly string[], prefix: string, options: { flat?: boolean } = {}): Row[] {
  const rows: Row[] = [];
  for (const [key, node] of Object.entries(properties as Record<string, Json>)) {
    const path = `${prefix}${key}`;
    const description = node['description'];
    const examples = node['examples'];
    if (typeof description !== 'string' || description === '') throw new Error(`\`${path}\` has no description: add .describe(…) where the key is defined`);
    if (!Array.isArray(examples) || examples.length === 0) throw new Error(`\`${path}\` has no example: add .meta({ examples: […] }) where the key is defined`);
    rows.push({ key: path, type: typeOf(node), required: required.includes(key), ...(node['default'] === undefined ? {} : { default: node['default'] }), description, example: exampleOf(key, examples[0]) });
    if (options.flat) continue;
    // Keys inside: a map's own keys, each member of a union that has keys, a record's values' keys.
    for (const [inner, innerPrefix] of nested(node, path)) rows.push(...rowsOf(inner['properties'], inner['required'] ?? [], innerPrefix));
  }
  return rows;
}

function nested(node: Json, path: string): [Json, string][] {
  if (node['properties']) return [[node, `${path}.`]];
  if (node['anyOf']) return (node['anyOf'] as Json[]).filter((member) => member['properties']).map((member) => [member, `${path}.`]);
  const values = node['additionalProperties'];
  if (values && typeof values === 'object' && values['properties']) return [[values, `${path}.<${placeholderOf(path)}>.`]];
  return [];
}

/** What the keys of a map stand for, in a path: `config.rateLimits.<provider>.rpm`. */
function placeholderOf(path: string): string {
  if (path.endsWith('rateLimits')) return 'provider';
  if (path.endsWith('prices')) return 'provider:model';
  return 'name';
}

/** A key's type in words: `integer, 1–1000`, `list of strings`, `boolean or map`, a template noted once. */
export function typeOf(node: Json): string {
  const template = (node['anyOf'] as Json[] | undefined)?.some(isTemplate) ?? false;
  const text = oneOf(alternatives(node), true);
  return template ? `${text} (or a \`\${…}\` reference)` : text;
}

function isTemplate(member: Json): boolean {
  return member['type'] === 'string' && member['pattern'] === TEMPLATE_PATTERN;
}

/** The types a value may have, each in words, without repeats. */
function alternatives(node: Json): string[] {
  let names: string[];
  if (node['anyOf']) names = (node['anyOf'] as Json[]).filter((m) => !isTemplate(m)).flatMap(alternatives);
  else if (Array.isArray(node['type'])) names = (node['type'] as string[]).flatMap((type) => alternatives({ ...node, type }));
  else if (node['enum']) names = [(node['enum'] as unknown[]).map((v) => code(String(v))).join(', ')];
  else {
    switch (node['type']) {
      case 'string':
      case 'boolean':
        names = [node['type']];
        break;
      case 'integer':
      case 'number':
        names = [`${node['type']}${range(node)}`];
        break;
      case 'array': {
        const items = node['items'] as Json | undefined;
        names = [items && Object.keys(items).length > 0 ? `list of ${oneOf(alternatives(items).map(plural))}` : 'list'];
        break;
      }
      case 'object': {
        const values = node['additionalProperties'];
        names = [!node['properties'] && values && typeof values === 'object' && Object.keys(values).length > 0 ? `map of ${oneOf(alternatives(values).map(plural))}` : 'map'];
        break;
      }
      default:
        names = ['any'];
    }
  }
  return [...new Set(names)];
}

/** `a`, `a or b`, `a, b or c`. */
function oneOf(names: string[], top = false): string {
  if (names.length <= 1) return names[0] ?? 'any';
  // At the top, alternatives that hold alternatives of their own are told apart with a semicolon.
  if (top && names.some((name) => name.includes(' or '))) return names.join('; or ');
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

function plural(type: string): string {
  return type.replace(/^(string|boolean|integer|number|map|list)\b/, '$1s');
}

function range(node: Json): string {
  const low = node['minimum'] ?? (node['exclusiveMinimum'] !== undefined ? `> ${node['exclusiveMinimum']}` : undefined);
  const high = node['maximum'] !== undefined && node['maximum'] < Number.MAX_SAFE_INTEGER ? node['maximum'] : undefined;
  if (low !== undefined && high !== undefined && typeof low === 'number') return `, ${low}–${high}`;
  if (low !== undefined && high === undefined) return typeof low === 'number' ? `, ≥ ${low}` : `, ${low}`;
  if (low !== undefined) return `, ${low}, ≤ ${high}`;
  return high !== undefined ? `, ≤ ${high}` : '';
}

/** An example as the YAML a user writes: `key: value` on one line. */
function exampleOf(key: string, value: unknown): string {
  return code(flowYaml({ [key]: value }).replace(/^\{ ?|\s?\}$/g, ''));
}

/** A value as YAML on one line, as a user writes it in a workflow. */
function flowYaml(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0, defaultStringType: 'PLAIN' }).trim();
}

function table(rows: Row[]): string {
  const lines = ['| Key | Type | Default | Description | Example |', '| --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    const def = row.default === undefined ? (row.required ? '*required*' : '') : code(typeof row.default === 'string' ? row.default : flowYaml(row.default));
    lines.push(`| ${code(row.key)} | ${cell(row.type)} | ${def} | ${cell(row.description)} | ${cell(row.example)} |`);
  }
  return lines.join('\n') + '\n';
}
