/**
 * A run's input values, checked against the workflow's `inputs` before anything runs. Values from the command
 * line arrive as text and are typed here (`-i count=3` is the number 3); library callers may pass real values.
 */
import { WorkflowInvalidError, type Diagnostic } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import { depthProblem, MAX_DEPTH } from '../definition/depth.ts';
import { matchesType } from '../definition/load.ts';
import type { InputSpec, WorkflowSpec } from '../definition/types.ts';
import { secretInputName } from './secrets.ts';

/** With `partial`, a required input that was not given is left out instead of reported (`plan` needs no inputs). */
export function resolveInputs(spec: WorkflowSpec, given: Readonly<Record<string, unknown>> = {}, options: { partial?: boolean } = {}): Record<string, unknown> {
  const problems: Diagnostic[] = [];
  const values: Record<string, unknown> = {};
  const names = Object.keys(spec.inputs);
  for (const [name, value] of Object.entries(given)) {
    // Own names only: `toString` or `constructor` is not an input because every object has one.
    const def = Object.hasOwn(spec.inputs, name) ? spec.inputs[name] : undefined;
    if (!def) {
      const hint = didYouMean(name, names) ?? (names.length ? `this workflow takes: ${names.join(', ')}` : 'this workflow declares no inputs');
      problems.push({ file: spec.file, line: 0, column: 0, code: 'unknown_input', message: `unknown input \`${name}\``, hint });
      continue;
    }
    // A value given for a secret input is never shown back, even when it is wrong.
    // Walked recursively later (fingerprints, templates, the record, the message below): a value nested past
    // the workflow's own limit is refused first, with its name, instead of overflowing the stack in the run.
    const deep = typeof value === 'object' ? depthProblem(value) : undefined;
    const typed = deep ? { value } : coerce(value, def, secretInputName(name) ? () => 'a value (not shown: the input is secret)' : show);
    const typedDeep = deep ?? ('problem' in typed ? undefined : depthProblem(typed.value));
    if ('problem' in typed) problems.push({ ...def.location, code: 'invalid_input', message: `input \`${name}\`: ${typed.problem}` });
    else if (typedDeep) problems.push({ ...def.location, code: 'invalid_input', message: `input \`${name}\`: ${typedDeep.kind === 'cycle' ? 'the value contains itself' : `nested too deeply: more than ${MAX_DEPTH} levels of lists and maps`}`, hint: 'flatten the data, or read it in a step' });
    else values[name] = typed.value;
  }
  for (const [name, def] of Object.entries(spec.inputs)) {
    if (Object.hasOwn(values, name) || problems.some((p) => p.message.startsWith(`input \`${name}\``))) continue;
    if (def.default !== undefined) values[name] = def.default;
    else if (def.required && !options.partial) {
      problems.push({ ...def.location, code: 'missing_input', message: `missing required input \`${name}\`${def.description ? ` (${def.description})` : ''}`, hint: `pass it with \`-i ${name}=…\`` });
    }
  }
  if (problems.length) throw new WorkflowInvalidError(problems);
  return values;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function coerce(value: unknown, def: InputSpec, shown: (value: unknown) => string): { value: unknown } | { problem: string } {
  if (typeof value === 'string' && def.type !== 'string') {
    const text = value.trim();
    switch (def.type) {
      case 'number': {
        const n = Number(text);
        return text !== '' && Number.isFinite(n) ? { value: n } : { problem: `expected a number, got ${shown(value)}` };
      }
      case 'boolean':
        if (/^(true|yes|1)$/i.test(text)) return { value: true };
        if (/^(false|no|0)$/i.test(text)) return { value: false };
        return { problem: `expected true or false, got ${shown(value)}` };
      case 'object':
      case 'array':
        try {
          const parsed: unknown = JSON.parse(text);
          if (matchesType(parsed, def.type)) return { value: parsed };
        } catch {
          // fall through to the message below
        }
        return { problem: `expected ${def.type === 'array' ? 'a JSON array' : 'a JSON object'}, got ${shown(value)}` };
    }
  }
  if (!matchesType(value, def.type)) return { problem: `expected a ${def.type}, got ${shown(value)}` };
  return { value };
}
