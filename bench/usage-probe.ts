/**
 * Loaded with `--import` into a measured child process: at exit it writes the process's own CPU time and peak
 * resident memory to the file named by BENCH_USAGE_FILE. CPU time is what a busy machine disturbs least; peak
 * RSS is the memory the process really held.
 */
import { writeFileSync } from 'node:fs';

const file = process.env['BENCH_USAGE_FILE'];
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ cpuUs: u.userCPUTime + u.systemCPUTime, maxRssKiB: u.maxRSS }));
  });
}
