/**
 * `--queue URL` (or `CONDUCTOR_QUEUE`): where a run's steps go to workers, and where a worker takes them from.
 * Without either, nothing changes: every step runs in the run's own process.
 */
import type { ParseArgsOptionDescriptor } from 'node:util';
import type { QueueLocation } from '../queue/connection.ts';
import { parseQueueUrl } from '../queue/connection.ts';

export const QUEUE_OPTION: ParseArgsOptionDescriptor & { description: string; value: string } = {
  type: 'string',
  value: 'redis://…',
  description: 'Run llm and http steps on workers through this Redis (`conductor worker`); also CONDUCTOR_QUEUE',
};

/** The queue the flags or the environment name, if any. */
export function queueFrom(values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): QueueLocation | undefined {
  const raw = (values['queue'] as string | undefined) ?? (env['CONDUCTOR_QUEUE'] || undefined);
  return raw === undefined ? undefined : parseQueueUrl(raw);
}
