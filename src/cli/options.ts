/** Option values shared by several commands, checked the same way everywhere. Light: no engine imports. */
import { UsageError } from '../core/errors.ts';

/** `--max-concurrency N`: an integer from 1 to 1000. */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`\`--max-concurrency\` expects an integer from 1 to 1000, got \`${text}\``);
  return n;
}
