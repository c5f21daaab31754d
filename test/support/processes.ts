/** What tests of commands share: a program that prints its argv, and whether a process is gone. */
import { readFileSync } from 'node:fs';

/** A node script printing its arguments as JSON: what a command received, exactly. */
export const PRINT_ARGV = 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n';

/** No process `pid` is left running. A zombie counts as gone: where PID 1 does not reap orphans, one stays. */
export function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
