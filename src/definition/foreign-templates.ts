/**
 * Templates from other tools — Go's `{{.steps.a.response}}`, Jinja's and Handlebars' `{{ inputs.x }}` — are
 * plain text to Conductor: sent as written, and a step they name is not waited for. That is almost never what
 * the author meant, so each is a warning (not an error: the text is legal, and may be meant for the model)
 * with the `${…}` spelling to use.
 *
 * Only text that would name something if it were a `${…}` is reported: a root (`steps`, `inputs`, `env`), or
 * a step id or input name of this workflow. `{{ name }}` in a prompt about Jinja, with no input `name`, is
 * left alone.
 */
import type { ActionRegistry } from '../actions/registry.ts';
import type { Diagnostic } from '../core/errors.ts';
import { formatPath, type PathKey } from '../template/parse.ts';
import { BASE_PROPERTIES, isRecord } from './references.ts';
import type { Locator } from './source.ts';

/** `{{ … }}`, with Go's `{{-` / `-}}` trim markers. */
const BRACES = /\{\{-?\s*([^{}]*?)\s*-?\}\}/g;
/** A dotted path, Go's leading `.` allowed: `.steps.a.response`, `inputs.x`, `steps.a.output[0]`. */
const PATH = /^\.?[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*$/;

/**
 * The warnings for `raw`, parsed from `text`. A string can only hold `{{` if the text has one, or a `\` that
 * spells one (`"\x7b\x7b"`, or a line break escaped between two braces); a text with neither — most files, and
 * a 10,000-step one — is not walked (the walk was ~7 % of validating that one).
 */
export function foreignTemplates(raw: Record<string, unknown>, text: string, source: Locator, actions: ActionRegistry): Diagnostic[] {
  if (!text.includes('{{') && !text.includes('\\')) return [];
  const rawSteps = Array.isArray(raw['steps']) ? (raw['steps'] as unknown[]) : [];
  const stepAction = new Map<string, string | undefined>();
  const blocks: { path: PathKey[]; value: unknown; inStep: boolean }[] = [];
  rawSteps.forEach((step, i) => {
    if (!isRecord(step)) return;
    const action = Object.keys(step).find((k) => actions.get(k));
    if (typeof step['id'] === 'string') stepAction.set(step['id'], action);
    if (action) blocks.push({ path: ['steps', i, action], value: step[action], inStep: true });
  });
  if (isRecord(raw['outputs'])) for (const [name, value] of Object.entries(raw['outputs'])) blocks.push({ path: ['outputs', name], value, inStep: false });
  const inputNames = new Set(isRecord(raw['inputs']) ? Object.keys(raw['inputs']) : []);
  const names: Names = {
    isStep: (id) => stepAction.has(id),
    isInput: (name) => inputNames.has(name),
    properties: (id) => {
      const action = stepAction.get(id);
      return [...BASE_PROPERTIES, ...((action && actions.get(action)?.exposes) ?? [])];
    },
  };

  const warnings: Diagnostic[] = [];
  // One path, pushed and popped: copied only for a string that holds `{{` (a 10,000-step file has none).
  const path: PathKey[] = [];
  const visit = (value: unknown, inStep: boolean): void => {
    if (typeof value === 'string') {
      if (value.includes('{{')) warnings.push(...inString(value, [...path], inStep));
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => (path.push(i), visit(v, inStep), path.pop()));
    } else if (isRecord(value)) {
      for (const [k, v] of Object.entries(value)) (path.push(k), visit(v, inStep), path.pop());
    }
  };
  const inString = (value: string, at: PathKey[], inStep: boolean): Diagnostic[] =>
    [...value.matchAll(BRACES)].flatMap((match) => {
      // `${{ … }}` is a template error already (see template/parse.ts), with its own hint.
      if (value[match.index - 1] === '$') return [];
      const suggestion = spell(match[1]!, names);
      if (!suggestion) return [];
      const written = match[0];
      const consequence = inStep && suggestion.step ? `, so this step does not wait for \`${suggestion.step}\`` : '';
      return {
        ...source.locateInString(at, match.index, written),
        code: 'foreign_template',
        message: `\`${written}\` is ${inStep ? 'sent' : 'printed'} as written: Conductor's templates are \`\${…}\`${consequence}`,
        hint: `write \`${suggestion.text}\``,
        severity: 'warning' as const,
      };
    });
  for (const block of blocks) {
    path.push(...block.path);
    visit(block.value, block.inStep);
    path.length = 0;
  }
  return warnings;
}

interface Names {
  isStep(id: string): boolean;
  isInput(name: string): boolean;
  /** What `${steps.<id>.…}` may read of the step (`output`, `status`, and what its action exposes). */
  properties(id: string): readonly string[];
}

/** What `expr` (the inside of `{{ }}`) would be as a `${…}` reference, if it names anything. */
function spell(expr: string, names: Names): { text: string; step?: string } | undefined {
  if (!PATH.test(expr)) return undefined;
  const keys = splitPath(expr.replace(/^\./, ''));
  const [root, ...rest] = keys as [string, ...PathKey[]];
  const asStep = (id: string, after: PathKey[]) => {
    const [property, ...deeper] = after;
    const allowed = names.properties(id);
    // `.StatusCode` is `statusCode`; `.response`, `.Output`, `.text`: what other tools call a step's result is
    // `output` here.
    const name = (typeof property === 'string' && allowed.find((p) => p.toLowerCase() === property.toLowerCase())) || 'output';
    const path = typeof property === 'string' ? deeper : after;
    return { text: `\${steps.${id}.${name}${formatPath(path)}}`, step: id };
  };
  switch (root.toLowerCase()) {
    case 'steps':
      return typeof rest[0] === 'string' ? asStep(rest[0], rest.slice(1)) : undefined;
    case 'inputs':
      return typeof rest[0] === 'string' ? { text: `\${inputs${formatPath(rest)}}` } : undefined;
    case 'env':
      return typeof rest[0] === 'string' && rest.length === 1 ? { text: `\${env.${rest[0]}}` } : undefined;
  }
  if (names.isStep(root)) return asStep(root, rest);
  if (names.isInput(root)) return { text: `\${inputs.${root}${formatPath(rest)}}` };
  return undefined;
}

/** `a.b[0]` → ['a', 'b', 0] (the text already matched PATH). */
function splitPath(expr: string): PathKey[] {
  return [...expr.matchAll(/([A-Za-z_][\w-]*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
}
