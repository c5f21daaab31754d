/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against `conductor serve` started
 * as users start it, its runs calling a stand-in OpenAI server. The stand-in holds its answers until the test
 * releases them, so "running" is a state the test waits for, never a moment it hopes to catch; every assertion
 * waits on the DOM (locators, waitForFunction), none sleeps.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserOptions, launchBrowser, serve, type Served } from './support/browser.ts';
import { ROOT } from './support/cli.ts';
import { addLlmRoutes, type ChatRequest } from './support/llm-stand-ins.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';

const ARTIFACTS = join(ROOT, 'test/artifacts');
const TOKEN = 'dashboard-test-token-3c9a51e0d7';
const SLOW = 'SLOW: this answer never comes';
const SLOW_YAML = `name: slow\nsteps:\n  - id: wait\n    llm:\n      prompt: "${SLOW}"\n`;
const INPUTS_YAML = 'name: greet\ninputs:\n  who: { type: string, required: true }\n  times: { type: number, default: 2 }\n  loud: { type: boolean }\nsteps:\n  - id: hello\n    llm:\n      prompt: "Hello ${inputs.who}"\n';
const EACH_YAML = 'name: each\nsteps:\n  - id: words\n    foreach: [alpha, beta, gamma]\n    as: word\n    continueOnError: true\n    llm:\n      prompt: "EACH ${word}"\n';
const TAGS_YAML = 'name: tags\ninputs:\n  tags: { type: array, required: true }\nsteps:\n  - id: a\n    llm:\n      prompt: "TAGS ${inputs.tags}"\n';
const BAD_YAML = 'name: bad\nsteps:\n  - id: a\n    llm:\n      prompt: "${steps.missing.output}"\n';

// Run in the page, as functions: the page's CSP forbids evaluating strings. This file is type-checked without
// the DOM's types, hence `window` typed loosely.
declare const window: any;
const RUN_PAGE = () => /^#\/runs\/[^/]+$/.test(window.location.hash);
const FITS = () => window.document.documentElement.scrollWidth <= window.innerWidth;
const FOCUSED_STEP = () => window.document.activeElement?.getAttribute('data-step') ?? null;
const WIDTHS = () => ({ page: window.document.documentElement.scrollWidth, window: window.innerWidth });

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-dashboard-'));
  made.push(dir);
  return dir;
}

/** The requests the stand-in holds: the mixed run's until `release` opens, the slow one until its socket closes. */
class Held {
  readonly mixed: ChatRequest[] = [];
  readonly slow: { request: ChatRequest; closed: boolean }[] = [];
  readonly release = new Gate();
  #waiters: { test: () => boolean; done: () => void }[] = [];

  /** Resolves once `test` holds, checked whenever a request is held or let go (the stand-in's own \`until\` looks
   * only when a request starts or ends, before this hook has seen it). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((done) => this.#waiters.push({ test, done }));
  }

  #changed(): void {
    this.#waiters = this.#waiters.filter((w) => (w.test() ? (w.done(), false) : true));
  }

  intercept = async (r: ChatRequest, res: ServerResponse): Promise<boolean> => {
    if (r.prompt.includes('SLOW')) {
      const held = { request: r, closed: false };
      this.slow.push(held);
      this.#changed();
      // Answered never: the only way out is the client closing the connection (a cancelled run's abort).
      await new Promise<void>((done) => res.on('close', () => done()));
      held.closed = true;
      this.#changed();
      return true;
    }
    if (r.prompt.startsWith('EACH')) {
      // The foreach workflow: one item refused (a 400 is not retried), the others answered.
      if (!r.prompt.includes('beta')) return false;
      reply(res, 400, { error: { message: 'beta is not a word this model takes', type: 'invalid_request_error' } });
      return true;
    }
    this.mixed.push(r);
    this.#changed();
    await this.release.wait();
    return false;
  };
}

/**
 * `held.until(test)`, failing with what the stand-in and the server said when it does not hold in 30 s: a
 * broken run then fails the test with its reason instead of hanging it.
 */
async function until(held: Held, stand: StandIn, server: Served, test: () => boolean, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not so after 30 s; the stand-in had ${stand.requests.length} requests; the server said: ${server.stderr()}`)), 30_000);
  });
  try {
    await Promise.race([held.until(test), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Presses Tab until `test` holds for the focused element (at most `limit` times); whether it did. */
async function tabTo(page: Page, test: () => boolean, limit = 40): Promise<boolean> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(test)) return true;
  }
  return false;
}

describe('the dashboard in a browser', { ...browserOptions(), timeout: 180_000 }, () => {
  let stand: StandIn;
  let held: Held;
  let server: Served;
  let browser: Browser;
  let page: Page;
  let root: string;
  const cspErrors: string[] = [];
  let mixedRun = '';

  before(async () => {
    held = new Held();
    stand = addLlmRoutes(await StandIn.start(), { intercept: held.intercept });
    root = await scratch();
    await cp(join(ROOT, 'examples/mixed.yaml'), join(root, 'mixed.yaml'));
    await cp(join(ROOT, 'examples/data.txt'), join(root, 'data.txt'));
    await writeFile(join(root, 'slow.yaml'), SLOW_YAML);
    await writeFile(join(root, 'greet.yaml'), INPUTS_YAML);
    await writeFile(join(root, 'bad.yaml'), BAD_YAML);
    await writeFile(join(root, 'each.yaml'), EACH_YAML);
    await writeFile(join(root, 'tags.yaml'), TAGS_YAML);
    server = await serve(['--root', root], {
      CONDUCTOR_HOME: await scratch(),
      CONDUCTOR_MODEL: 'openai:gpt-4o-mini',
      OPENAI_BASE_URL: `${stand.url}/v1`,
      OPENAI_API_KEY: 'sk-test-0123456789abcdef',
    });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
  });

  after(async () => {
    held?.release.open();
    await browser?.close();
    const result = await server?.stop();
    if (result) assert.equal(result.code, 0, result.stderr);
    await stand?.close();
  });

  it('starts the mixed workflow from the form, shows process1–3 running, then succeeded, and combine\'s output', async () => {
    await page.goto(`${server.base}/#/workflows`);
    await page.getByRole('link', { name: 'mixed.yaml' }).click();
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForFunction(RUN_PAGE);
    mixedRun = decodeURIComponent(new URL(page.url()).hash.slice('#/runs/'.length));

    // The stand-in has the three requests and holds them: the three steps are running, and show it in words.
    await until(held, stand, server, () => held.mixed.length >= 3, 'the stand-in holds the three process requests');
    assert.deepEqual(held.mixed.map((r) => r.prompt.split(':')[0]).sort(), ['Extract key points', 'Generate questions', 'Summarize']);
    for (const id of ['process1', 'process2', 'process3']) {
      const node = page.locator(`[data-step="${id}"][data-status="running"]`);
      await node.waitFor();
      assert.match((await node.getAttribute('aria-label')) ?? '', /running/);
    }
    await page.locator('[data-step="read_file"][data-status="succeeded"]').waitFor();
    await page.locator('[data-step="combine"][data-status="pending"]').waitFor();
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).waitFor();

    held.release.open();
    for (const id of ['process1', 'process2', 'process3', 'combine']) await page.locator(`[data-step="${id}"][data-status="succeeded"]`).waitFor();
    await page.getByTestId('run-status').filter({ hasText: 'succeeded' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0);

    await page.locator('[data-step="combine"]').click();
    const output = page.getByLabel('Output of combine', { exact: true });
    await output.waitFor();
    const text = await output.innerText();
    assert.match(text, /Combine these analyses/);
    for (const part of ['Summarize:', 'Extract key points:', 'Generate questions:']) assert.ok(text.includes(part), `${part} in ${text}`);
    // The model's answers are text on the page, never markup: data.txt's words are there as they were written.
    assert.equal(await page.locator('.panel script, .panel img').count(), 0);

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-run.png'), fullPage: false });
    if (process.env['CONDUCTOR_README_SCREENSHOT'] === '1') await page.screenshot({ path: join(ROOT, 'docs/dashboard-run.png'), fullPage: false });
  });

  it('lists the run with its status, steps done and duration', async () => {
    assert.ok(mixedRun, 'the first test started a run');
    await page.goto(`${server.base}/#/runs`);
    const row = page.locator(`tr[data-run="${mixedRun}"]`);
    await row.waitFor();
    await row.getByText('succeeded').waitFor();
    assert.match(await row.innerText(), /5\/5/);
    assert.match(await row.innerText(), /mixed\.yaml/);
    // Filtered to one workflow, as the workflow's page links to it.
    await page.goto(`${server.base}/#/workflows/greet.yaml`);
    await page.getByRole('link', { name: 'Runs of this workflow' }).click();
    await page.getByRole('heading', { name: 'Runs of greet.yaml' }).waitFor();
    await page.getByText('No runs yet.').waitFor();
    await page.goto(`${server.base}/#/runs?workflow=mixed.yaml`);
    await page.locator(`tr[data-run="${mixedRun}"]`).waitFor();
  });

  it('reaches the start button and a graph node by keyboard; Enter opens the step', async () => {
    await page.goto(`${server.base}/#/workflows/mixed.yaml`);
    await page.getByRole('button', { name: 'Start run' }).waitFor();
    await page.locator('body').focus();
    assert.ok(await tabTo(page, () => window.document.activeElement?.textContent?.trim() === 'Start run'), 'Tab reaches Start run');

    await page.goto(`${server.base}/#/runs/${encodeURIComponent(mixedRun)}`);
    await page.locator('[data-step="read_file"]').waitFor();
    assert.ok(await tabTo(page, () => window.document.activeElement?.hasAttribute('data-step') === true), 'Tab reaches a graph node');
    const focused = await page.evaluate(FOCUSED_STEP);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Step ${focused}` }).waitFor();
  });

  it('fits a phone-width window (390 px) with no horizontal scrolling, the panel below the graph', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await phone.goto(`${server.base}/#/runs/${encodeURIComponent(mixedRun)}`);
      await phone.locator('[data-step="combine"][data-status="succeeded"]').click();
      await phone.getByLabel('Output of combine', { exact: true }).waitFor();
      const widths = await phone.evaluate(WIDTHS);
      assert.ok(widths.page <= widths.window, `the page is ${widths.page} px wide in a ${widths.window} px window`);
      await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-run-phone.png'), fullPage: true });
      await phone.goto(`${server.base}/#/runs`);
      await phone.locator(`tr[data-run="${mixedRun}"]`).waitFor();
      assert.ok(await phone.evaluate(FITS), 'the runs list fits too');
      await phone.goto(`${server.base}/#/workflows/mixed.yaml`);
      await phone.getByRole('button', { name: 'Start run' }).waitFor();
      await phone.getByRole('table').waitFor();
      assert.ok(await phone.evaluate(FITS), 'the plan and the start form fit too');
    } finally {
      await phone.close();
    }
  });

  it('cancels a running run from its page: the run shows cancelled and the held model request is aborted', async () => {
    await page.goto(`${server.base}/#/workflows/slow.yaml`);
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForFunction(RUN_PAGE);
    await until(held, stand, server, () => held.slow.length >= 1, 'the stand-in holds the slow request');
    await page.locator('[data-step="wait"][data-status="running"]').waitFor();
    const slowRun = decodeURIComponent(new URL(page.url()).hash.slice('#/runs/'.length));
    // The runs list, open beside it, follows the run without a reload.
    const list = await browser.newPage();
    await list.goto(`${server.base}/#/runs`);
    const row = list.locator(`tr[data-run="${slowRun}"]`);
    await row.getByText('running').waitFor();

    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor();
    await page.locator('[data-step="wait"][data-status="cancelled"]').waitFor();
    await until(held, stand, server, () => held.slow.every((h) => h.closed), 'the held request was aborted');
    const record = stand.requests.find((r) => r.body.includes('SLOW'));
    assert.equal(record?.aborted, true);
    await row.getByText('cancelled').waitFor();
    await list.close();

    // Resume: a form (from which step; secret inputs, which the record does not keep), then a new run, which
    // says what it resumed; it holds its call again, and is cancelled the same way.
    await page.getByRole('button', { name: 'Resume run…' }).click();
    const resumeForm = page.getByRole('form', { name: 'Resume the run' });
    await resumeForm.getByRole('combobox', { name: 'Re-run from step' }).selectOption('wait');
    await resumeForm.getByRole('button', { name: 'Resume run' }).click();
    await page.waitForFunction((old) => window.location.hash.startsWith('#/runs/') && !window.location.hash.endsWith(old), encodeURIComponent(slowRun));
    await page.getByRole('link', { name: slowRun }).waitFor();
    await until(held, stand, server, () => held.slow.length >= 2, 'the resumed run calls the model again');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor();

    // The step's history: this run, and the one it resumed (a link to it).
    await page.locator('[data-step="wait"][data-status="cancelled"]').click();
    const history = page.getByRole('region', { name: 'History of wait' });
    await history.getByText('this run').waitFor();
    assert.equal(await history.getByRole('listitem').count(), 2);
    assert.equal(await history.getByRole('link').count(), 1);
  });

  it('opens a foreach step to its items: each one\'s status, the failed one\'s error, an item\'s output', async () => {
    await page.goto(`${server.base}/#/workflows/each.yaml`);
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForFunction(RUN_PAGE);
    await page.getByTestId('run-status').filter({ hasText: 'succeeded' }).waitFor();
    await page.locator('[data-step="words"]').click();
    const items = page.getByRole('region', { name: 'Items' });
    await items.getByRole('heading', { name: 'Items (3, 1 failed)' }).waitFor();
    await items.getByRole('button', { name: /#1 — ✗ failed/ }).waitFor();
    await items.getByText('beta is not a word this model takes').waitFor();
    await items.getByRole('button', { name: /#2 — ✓ succeeded/ }).click();
    const output = page.getByLabel('Output of item 2', { exact: true });
    await output.waitFor();
    assert.match(await output.innerText(), /EACH gamma/);
  });

  it('reads a run\'s events from a stream cut mid-event, and reads on from the last id it had', async () => {
    const probe = await browser.newPage();
    try {
      await probe.goto(`${server.base}/#/runs`);
      const result = await probe.evaluate(async () => {
        const module = '/assets/api.js';
        const { followEvents } = await import(module);
        const calls: { lastId: string | null; auth: string | null; url: string }[] = [];
        const streams = [
          ['id: 1\nevent: run:start\ndata: {"type":"run:start","stepIds":["a"]}\n\n', 'id: 2\nevent: step:st', 'art\r\ndata: {"type":"step:start",\r\ndata: "stepId":"a"}\r', '\n\r\n: a comment\n\nid: 3\nevent: step:end\ndata: {"type":"step:e'],
          ['id: 3\nevent: step:end\ndata: {"type":"step:end","stepId":"a","status":"succeeded"}\n\n', 'id: 4\nevent: run:end\ndata: {"type":"run:end","report":{}}\n\n'],
        ];
        const real = window.fetch;
        window.fetch = async (url: string, init: { headers: Record<string, string> }) => {
          calls.push({ url: String(url), lastId: init.headers['last-event-id'] ?? null, auth: init.headers['authorization'] ?? null });
          const chunks = streams[calls.length - 1] ?? [];
          const encoder = new TextEncoder();
          const body = new ReadableStream({ start(c: any) { for (const chunk of chunks) c.enqueue(encoder.encode(chunk)); c.close(); } });
          return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
        };
        try {
          const events: [string, string, unknown][] = [];
          await new Promise<void>((done) => followEvents('run-1', { onEvent: (type: string, data: unknown, id: string) => events.push([type, id, data]), onState: ({ state }: { state: string }) => state === 'ended' && done() }));
          return { events, calls };
        } finally {
          window.fetch = real;
        }
      });
      assert.deepEqual(result.events.map(([type, id]) => `${id} ${type}`), ['1 run:start', '2 step:start', '3 step:end', '4 run:end']);
      assert.deepEqual(result.events[1]![2], { type: 'step:start', stepId: 'a' });
      assert.deepEqual(result.calls.map((c) => c.lastId), [null, '2']);
      assert.ok(result.calls.every((c) => c.url === '/api/runs/run-1/events' && c.auth === null), JSON.stringify(result.calls));
    } finally {
      await probe.close();
    }
  });

  it('keeps a run\'s state from its events, and finds the critical path by time, else by steps', async () => {
    const probe = await browser.newPage();
    try {
      await probe.goto(`${server.base}/#/runs`);
      const result = await probe.evaluate(async () => {
        const load = (name: string) => import(name);
        const { applyEvent, normalizeRun } = await load('/assets/model.js');
        const { criticalPath, depths } = await load('/assets/graph.js');
        const dependsOn: Record<string, string[]> = { a: [], b: ['a'], c: ['a'], d: ['b', 'c'], e: [] };
        const steps = Object.fromEntries(Object.entries(dependsOn).map(([id, deps]) => [id, { status: 'pending', dependsOn: deps }]));
        let run = normalizeRun({ runId: 'r', status: 'running', steps });
        const at = 1_000_000;
        const events: [string, object][] = [
          ['step:start', { stepId: 'a', at }],
          ['step:end', { stepId: 'a', status: 'succeeded', durationMs: 10, output: 'A', at: at + 10 }],
          ['step:start', { stepId: 'b', at: at + 10 }],
          ['step:start', { stepId: 'c', at: at + 10 }],
          ['step:items', { stepId: 'c', count: 2, at: at + 11 }],
          ['item:start', { stepId: 'c', index: 1, at: at + 12 }],
          ['item:end', { stepId: 'c', index: 1, status: 'failed', error: 'no', attempts: 2, at: at + 20 }],
        ];
        const seen: string[] = [];
        for (const [type, e] of events) {
          run = applyEvent(run, type, e);
          seen.push(`${type}:${run.order.map((id: string) => run.steps[id].status[0]).join('')}`);
        }
        const middle = { c: run.steps.c, done: run.stepsDone };
        run = applyEvent(run, 'step:end', { stepId: 'b', status: 'succeeded', durationMs: 500, at: at + 510 });
        run = applyEvent(run, 'step:end', { stepId: 'c', status: 'failed', durationMs: 20, items: [{ index: 0, status: 'succeeded', attempts: 1 }, { index: 1, status: 'failed', error: 'no', attempts: 2 }], at: at + 30 });
        const byTime = criticalPath(run.order, run.steps);
        const bySteps = criticalPath(Object.keys(steps), steps);
        const level = depths(Object.keys(steps), steps);
        return { seen, middle, byTime, bySteps, depth: Object.fromEntries(level), c: run.steps.c, done: run.stepsDone };
      });
      assert.deepEqual(result.seen, ['step:start:rpppp', 'step:end:spppp', 'step:start:srppp', 'step:start:srrpp', 'step:items:srrpp', 'item:start:srrpp', 'item:end:srrpp']);
      assert.equal(result.middle.done, 1);
      assert.deepEqual(result.middle.c.items.map((i: { status: string }) => i.status), ['pending', 'failed']);
      assert.equal(result.middle.c.items[1].error, 'no');
      assert.equal(result.c.status, 'failed');
      assert.deepEqual(result.c.items.map((i: { status: string }) => i.status), ['succeeded', 'failed']);
      assert.equal(result.done, 3);
      assert.deepEqual(result.depth, { a: 0, b: 1, c: 1, d: 2, e: 0 });
      // b took 500 ms, c 20: the path goes through b; before anything ran, the longest chain by steps.
      assert.deepEqual(result.byTime, ['a', 'b', 'd']);
      assert.equal(result.bySteps.length, 3);
      assert.equal(result.bySteps[0], 'a');
      assert.equal(result.bySteps[2], 'd');
    } finally {
      await probe.close();
    }
  });

  it('makes a form from the declared inputs, and refuses a missing required one before sending', async () => {
    await page.goto(`${server.base}/#/workflows/greet.yaml`);
    const who = page.getByLabel(/^who/);
    await who.waitFor();
    assert.equal(await who.getAttribute('required'), '');
    assert.equal(await page.getByLabel(/^times/).inputValue(), '2');
    assert.equal(await page.getByLabel(/^loud/).getAttribute('type'), 'checkbox');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.getByText('who is required').waitFor();

    // A list input is JSON: text that is not JSON is refused here; JSON of the wrong type by the server (its
    // located problem shown as `file:line:col message`), and nothing starts.
    await page.goto(`${server.base}/#/workflows/tags.yaml`);
    const tags = page.getByLabel(/^tags/);
    await tags.fill('[oops');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.getByText(/tags is not valid JSON/).waitFor();
    await tags.fill('{"a": 1}');
    await page.getByRole('button', { name: 'Start run' }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('tags.yaml:3:3').waitFor();
    assert.match(await alert.innerText(), /input `tags`: expected a array/);
    assert.match(page.url(), /#\/workflows\/tags\.yaml$/);
  });

  it('shows an invalid workflow\'s located problems and offers no start', async () => {
    await page.goto(`${server.base}/#/workflows`);
    await page.getByText(/problem.* cannot be started/).waitFor();
    await page.getByRole('link', { name: 'bad.yaml' }).click();
    await page.getByRole('alert').getByText(/bad\.yaml:\d+:\d+/).first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start run' }).count(), 0);
  });

  it('broke no rule of the page\'s Content-Security-Policy', () => {
    assert.deepEqual(cspErrors, []);
  });
});

describe('the dashboard with a token', { ...browserOptions(), timeout: 300_000 }, () => {
  let server: Served;
  let browser: Browser;

  before(async () => {
    const root = await scratch();
    await cp(join(ROOT, 'examples/mixed.yaml'), join(root, 'mixed.yaml'));
    server = await serve(['--root', root], { CONDUCTOR_HOME: await scratch(), CONDUCTOR_SERVE_TOKEN: TOKEN });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks for the token on a 401, keeps it for the tab and sends it as a header', async () => {
    const page = await browser.newPage();
    const sent: (string | null)[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/')) {
        sent.push(r.headers()['authorization'] ?? null);
        assert.ok(!r.url().includes(TOKEN), 'never a token in a URL');
      }
    });
    await page.goto(`${server.base}/#/workflows`);
    const field = page.getByLabel('Token', { exact: true });
    await field.waitFor();
    await field.fill(TOKEN);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByRole('link', { name: 'mixed.yaml' }).waitFor();
    assert.equal(await page.evaluate(() => window.sessionStorage.getItem('conductor.token')), TOKEN);
    assert.equal(sent.at(-1), `Bearer ${TOKEN}`);
    await page.close();
  });
});

describe('the dashboard\'s files', () => {
  let server: Served;
  before(async () => {
    server = await serve(['--root', await scratch()], { CONDUCTOR_HOME: await scratch(), CONDUCTOR_SERVE_TOKEN: TOKEN });
  });
  after(() => server?.stop());

  it('serves the page without the token, under a CSP that allows only its import map, and /api still needs it', async () => {
    const page = await fetch(`${server.base}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const { createHash } = await import('node:crypto');
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(map).digest('base64')}'`), csp);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal((await fetch(`${server.base}/api/runs`)).status, 401);
  });

  it('serves the dashboard\'s own files and the three vendor modules with their types, and nothing else', async () => {
    for (const [path, type] of [['/assets/app.js', 'text/javascript'], ['/assets/style.css', 'text/css'], ['/vendor/preact.mjs', 'text/javascript'], ['/vendor/hooks.mjs', 'text/javascript'], ['/vendor/htm.mjs', 'text/javascript']] as const) {
      const res = await fetch(server.base + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      const body = await res.text();
      if (path.startsWith('/vendor/')) assert.match(body, /\bexport\s*\{|export default/, `${path} is an ES module`);
    }
    for (const path of ['/assets/index.html', '/assets/%2e%2e%2fpackage.json', '/assets/..%2Fpackage.json', '/vendor/compat.mjs', '/vendor/..%2F..%2Fpackage.json', '/assets/', '/dashboard/app.js']) {
      const res = await fetch(server.base + path);
      assert.ok(res.status === 404 || res.status === 401 || res.status === 403, `${path}: ${res.status}`);
      assert.doesNotMatch(await res.text(), /"name": "conductor"|import \{/, path);
    }
  });
});
