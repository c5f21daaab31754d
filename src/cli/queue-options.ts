/**
 * `--queue URL` (or `CONDUCTOR_QUEUE`): where a run's steps go to workers, and where a worker takes them from.
 * Without either, nothing changes: every step runs in the run's own process.
 */
import type { ParseArgsOptionDescriptor } from 'node:util';
import type { QueueLocation } from '../queue/connection.ts';
import { parseQueueUrl } from '../queue/connection.ts';
import { UsageError } from '../core/errors.ts';

export const QUEUE_OPTION: ParseArgsOptionDescriptor & { description: string; value: string } = {
  type: 'string',
  value: 'redis://…',
  description: 'Run llm and http steps on workers through this Redis (`conductor worker`); also CONDUCTOR_QUEUE',
};

/** The queue the flags or the environment name, if any. */
export function queueFrom(values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): QueueLocation | undefined {
  const raw = (values['queue'] as string | undefined) ?? (env['CONDUCTOR_QUEUE'] || undefined);
  if (raw === undefined) return undefined;
  const key = env['CONDUCTOR_QUEUE_KEY'] || undefined;
  if (key !== undefined && key.length < 16) throw new UsageError('CONDUCTOR_QUEUE_KEY is too short to sign jobs with (at least 16 characters)', { hint: 'use a long random value, the same for the runs and the workers, e.g. `openssl rand -hex 32`' });
  return { ...parseQueueUrl(raw), ...(key ? { key } : {}) };
}
