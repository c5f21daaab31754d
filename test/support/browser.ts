/**
 * The browser the dashboard's tests drive: Debian's Chromium (`/usr/bin/chromium`, or CONDUCTOR_CHROMIUM),
 * headless, through playwright-core — never a browser playwright downloads. Where it is missing, the tests are
 * skipped with the reason shown (as test/support/services.ts does for Redis); with CONDUCTOR_REQUIRE_BROWSER=1
 * (`.ci/run` sets it) they run and fail instead, so a green CI never means "skipped".
 *
 * Also: `conductor serve` started as users start it (the built binary), and the port it prints.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { conductor, type CliResult } from './cli.ts';

export const CHROMIUM = process.env['CONDUCTOR_CHROMIUM'] || '/usr/bin/chromium';
export const REQUIRE_BROWSER = process.env['CONDUCTOR_REQUIRE_BROWSER'] === '1';

function missing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CONDUCTOR_CHROMIUM)`;
  }
}

/** `node:test` options: skipped with the reason when there is no browser, unless one is required. */
export function browserOptions(): { skip: string | false } {
  const reason = missing();
  return { skip: reason && !REQUIRE_BROWSER ? `${reason} — skipped` : false };
}

export async function launchBrowser(): Promise<Browser> {
  const reason = missing();
  if (reason) throw new Error(`${reason}; CONDUCTOR_REQUIRE_BROWSER=1 requires it`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
}

export interface Served {
  base: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Ctrl-C, and its exit. */
  stop(): Promise<CliResult>;
}

/** `conductor serve --port 0 …args`, resolved once it prints the address it listens on. */
export async function serve(args: string[], env: Record<string, string>): Promise<Served> {
  const proc = conductor(['serve', '--port', '0', ...args], { env });
  let seen = '';
  proc.child.stderr!.on('data', (d: Buffer) => (seen += d));
  const base = await new Promise<string>((done, fail) => {
    proc.child.stderr!.on('data', () => {
      const match = /^conductor serve: (http:\/\/127\.0\.0\.1:\d+) \(root .+\)$/m.exec(seen);
      if (match) done(match[1]!);
    });
    proc.done.then((r) => fail(new Error(`serve exited ${r.code} before listening: ${r.stderr}`)));
  });
  return {
    base,
    stderr: () => seen,
    async stop() {
      if (proc.child.exitCode === null) proc.child.kill('SIGINT');
      return proc.done;
    },
  };
}
