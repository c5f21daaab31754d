import { UsageError } from '../../core/errors.ts';
import { formatBytes } from '../../core/bytes.ts';
import { DURATION_HINT, parseDuration } from '../../core/duration.ts';
import type { CacheEntries, CacheStats } from '../../store/types.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle, type Style } from '../../report/style.ts';
import { openStore, STORE_DESCRIPTION } from '../execute.ts';

export const cacheCommand: Command = {
  usage: 'conductor cache stats [--json] [--store PATH|URL]  |  conductor cache clear [--older-than 7d] [--json] [--store PATH|URL]',
  // `cache stats --json`: CacheStats; `cache clear --json`: { removed: number }.
  jsonShape: ['src/store/types.ts#CacheStats'],
  options: {
    json: { type: 'boolean', description: 'Print JSON: the stats by action, or `{ removed }`' },
    'older-than': { type: 'string', value: 'duration', description: 'With `clear`: remove only entries made longer ago than this (`12h`, `7d`, `2w`)' },
    store: { type: 'string', value: 'PATH|URL', description: `${STORE_DESCRIPTION}; it keeps the cache` },
  },
  async run({ values, positionals }, io) {
    const [sub, ...rest] = positionals;
    if (sub !== 'stats' && sub !== 'clear') {
      throw new UsageError(sub === undefined ? 'missing the `cache` subcommand' : `unknown \`cache\` subcommand \`${sub}\``, { hint: `usage: ${this.usage}` });
    }
    if (rest.length > 0) throw new UsageError(`\`cache ${sub}\` takes no argument, got \`${rest[0]}\``, { hint: `usage: ${this.usage}` });
    if (sub === 'stats' && values['older-than'] !== undefined) throw new UsageError('`--older-than` goes with `cache clear`', { hint: `usage: ${this.usage}` });
    const olderThan = sub === 'clear' ? age(values['older-than'] as string | undefined) : undefined;
    // `stats` only reads: it works while a run writes, and on a store this user cannot write.
    const store = await openStore(values, io, sub === 'stats' ? { access: 'read' } : {});
    try {
      const entries = store.cache;
      if (sub === 'stats') {
        const stats = (await entries?.stats()) ?? [];
        io.stdout.write(values['json'] === true ? JSON.stringify(stats, null, 2) + '\n' : statsText(stats, createStyle(io.stdout, io.env)));
        return EXIT.ok;
      }
      const removed = await clear(entries, olderThan);
      if (values['json'] === true) io.stdout.write(JSON.stringify({ removed }) + '\n');
      else io.stdout.write(`removed ${removed} cache ${removed === 1 ? 'entry' : 'entries'}${olderThan === undefined ? '' : ` made more than ${values['older-than']} ago`}\n`);
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};

/** `--older-than` in ms; a UsageError (exit 2) for anything that is not a duration. */
function age(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`\`--older-than ${text}\`: expected a duration`, { hint: `${DURATION_HINT}; without --older-than, every entry is removed` });
  return ms;
}

async function clear(entries: CacheEntries | undefined, olderThanMs: number | undefined): Promise<number> {
  if (!entries) return 0;
  return entries.clear(olderThanMs === undefined ? undefined : Date.now() - olderThanMs);
}

function usd(value: number | null): string {
  if (value === null) return '—';
  return `$${value > 0 && value < 0.01 ? value.toFixed(4) : value.toFixed(2)}`;
}

function when(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toLocaleString('sv-SE').slice(0, 19);
}

/** One row per action, and a total when there are several. */
function statsText(stats: CacheStats[], style: Style): string {
  if (stats.length === 0) return 'the step cache is empty\n';
  const rows = stats.map((s) => [s.action, String(s.entries), formatBytes(s.bytes), String(s.hits), s.savedTokens.toLocaleString('en-US'), usd(s.savedUsd), when(s.oldest), when(s.newest), when(s.lastHitAt)]);
  if (stats.length > 1) {
    const sum = (pick: (s: CacheStats) => number) => stats.reduce((total, s) => total + pick(s), 0);
    const saved = stats.some((s) => s.savedUsd === null) ? null : sum((s) => s.savedUsd!);
    const lastHits = stats.flatMap((s) => (s.lastHitAt === undefined ? [] : [s.lastHitAt]));
    rows.push(['total', String(sum((s) => s.entries)), formatBytes(sum((s) => s.bytes)), String(sum((s) => s.hits)), sum((s) => s.savedTokens).toLocaleString('en-US'), usd(saved), when(Math.min(...stats.map((s) => s.oldest))), when(Math.max(...stats.map((s) => s.newest))), when(lastHits.length ? Math.max(...lastHits) : undefined)]);
  }
  const header = ['ACTION', 'ENTRIES', 'SIZE', 'HITS', 'TOKENS SAVED', 'SAVED', 'OLDEST', 'NEWEST', 'LAST HIT'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  // Numbers right-aligned, words and times left.
  const right = new Set([1, 2, 3, 4, 5]);
  const line = (cells: string[]) => cells.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [style.bold(line(header)), ...rows.map(line)].join('\n') + '\n';
}
