import { z } from 'zod';

/** A string holding a `${…}` reference: stands in for a value only known when the run resolves it. */
export const templateString = z.string().regex(/\$\{/, 'expected a `${…}` reference');

/** `schema`, or a template that will resolve to it. */
export function templated<T extends z.ZodType>(schema: T) {
  return z.union([schema, templateString]);
}

/** Is this literal value still a template (so its real value is unknown before the run)? */
export function isTemplate(value: unknown): value is string {
  return typeof value === 'string' && /(^|[^$])\$\{/.test(value);
}
