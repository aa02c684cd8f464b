/**
 * The dashboard in a real browser: playwright-core driving Debian's chromium against a real
 * server with the engine, under a strict Content-Security-Policy. Signs in, submits a folder
 * (tools in a sub-folder), watches a scatter complete, reads a task's log, pages and jumps in
 * the tasks of a seeded 100,000-task run, filters them by state (counts are links) and by
 * failure group, sorts them by memory, cancels a run, and checks the phone-width layout.
 * Screenshots go to docs/screenshots/ (shown in README).
 *
 * Skipped, saying why, when /usr/bin/chromium (CHROMIUM_PATH) or playwright-core is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { buildTestApp } from '../helpers/test-app.js';
import { seedRun, seedShape } from '../../src/wes/seed.js';
import { runsDirOf } from '../../src/wes/run-service.js';
import { ECHO_NUMBER_TOOL, SCATTER_WORKFLOW_TOOL_FILE, SLEEPING_TOOL } from '../e2e/workflows.js';
import { multipartBody } from '../helpers/multipart.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve('docs/screenshots');

/** The part of the Playwright API this test uses (playwright-core ships the full types; it is a devDependency). */
interface Locator {
  click(): Promise<void>;
  textContent(): Promise<string | null>;
  waitFor(options?: { state?: 'visible' | 'attached'; timeout?: number }): Promise<void>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  selectOption(selector: string, value: string): Promise<unknown>;
  setInputFiles(selector: string, files: string | string[]): Promise<void>;
  locator(selector: string): Locator & { first(): Locator; filter(options: { hasText: string }): Locator & { first(): Locator } };
  waitForFunction<A>(fn: (arg: A) => boolean, arg: A, options?: { timeout?: number }): Promise<unknown>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: { executablePath: string; headless: boolean; args: string[]; viewport: { width: number; height: number } },
    ): Promise<BrowserContext>;
  };
}

function loadPlaywright(): Playwright | string {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium, or set CHROMIUM_PATH)`;
  try {
    // require() honours NODE_PATH, so a scratch install works too: NODE_PATH=/tmp/deps/node_modules.
    return createRequire(import.meta.url)('playwright-core') as Playwright;
  } catch {
    return 'playwright-core is not installed (npm ci installs it as a devDependency)';
  }
}

const playwright = loadPlaywright();

test('dashboard: sign in, submit a folder, watch a scatter, read a log, page a 100,000-task run, cancel', { skip: typeof playwright === 'string' ? playwright : false, timeout: 900_000 }, async (t) => {
  const pw = playwright as Playwright;
  const app = await buildTestApp(t, { engine: true });
  const { auth, userId } = await app.addUser('browser');
  const key = auth.replace(/^Bearer /, '');
  const seeded = await seedRun(app.store.db, {
    userId,
    runsDir: runsDirOf(app.database.dataDir),
    steps: seedShape({ inputs: 2, steps: 10, mapped: 2, elements: 50_000 }),
    logs: false,
  });
  assert.equal(seeded.tasks, 100_010);
  // Some measured jobs, for the slowest steps and the largest tasks (the seed records no usage).
  await app.store.db.updateTable('job').set((eb) => ({ cpu_seconds: 1.5, max_rss_bytes: eb('id', '*', 1024) })).where((eb) => eb(eb('id', '%', 1000), '=', 0)).execute();
  const failedTasks = Number((await app.store.db.selectFrom('job').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'error').executeTakeFirstOrThrow()).n);
  const base = await app.app.listen({ port: 0, host: '127.0.0.1' });
  // The page is served under a strict policy (no inline script or style); the browser reports any violation below.
  const policy = (await fetch(`${base}/`)).headers.get('content-security-policy') ?? '';
  assert.match(policy, /script-src 'self'/);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);

  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-browser-wf-'));
  fs.mkdirSync(path.join(folder, 'tools'));
  fs.writeFileSync(path.join(folder, 'scatter.cwl'), SCATTER_WORKFLOW_TOOL_FILE);
  fs.writeFileSync(path.join(folder, 'tools/echo.cwl'), ECHO_NUMBER_TOOL);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-browser-profile-'));
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(folder, { recursive: true, force: true });
  });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[014]/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const text = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';
  let stage = 'start';
  const failures = (error: unknown) => {
    throw new Error(`at "${stage}": ${(error as Error).message.split('\n')[0]}; page: ${lastText}`);
  };
  let lastText = '';
  // A function, not a string: evaluating a string would need 'unsafe-eval', which the CSP forbids.
  const waitForText = async (selector: string, pattern: string, timeout = 120_000) => {
    stage = `${selector} ~ /${pattern}/`;
    await page.waitForFunction(
      (arg: { selector: string; pattern: string }) => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
        const el = doc.querySelector(arg.selector);
        return el !== null && new RegExp(arg.pattern).test(el.textContent ?? '');
      },
      { selector, pattern },
      { timeout },
    ).catch(async (error: unknown) => {
      lastText = (await page.locator('main').first().textContent())?.slice(0, 400) ?? '';
      failures(error);
    });
  };

  // Sign in: a wrong key is refused with the server's message, the right one opens the runs list.
  await page.goto(`${base}/`);
  await page.fill('#api-key', 'wes_wrong');
  await page.click('button[type=submit]');
  await waitForText('[role=alert]', 'API key is not valid');
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');
  await waitForText('main h1', '^Runs$');
  await waitForText('tbody', seeded.runId);

  // Submit a folder: its sub-folder is kept; bad JSON is caught before sending, the server's 400 shown by its field.
  await page.goto(`${base}/#/submit`);
  await page.setInputFiles('#folder', folder);
  await waitForText('#picked-files', 'tools/echo.cwl');
  await page.selectOption('#workflow_url', 'scatter.cwl');
  await page.fill('#workflow_params', '{"numbers": [1, 2,');
  await waitForText('#workflow_params-error', 'not valid JSON');
  await page.fill('#workflow_params', '{"numbers": "three"}');
  await page.click('button[type=submit]');
  await waitForText('#workflow_params-error', 'invalid workflow: inputs\\.numbers');
  await page.fill('#workflow_params', '{"numbers": [1, 2, 3]}');
  await page.fill('#tags', 'suite=browser');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'submit.png') });
  await page.click('button[type=submit]');

  // Watch the scatter complete: state, counts, outputs and tasks follow live.
  await waitForText('main h1', '^Run ');
  await waitForText('.facts', 'COMPLETE', 300_000);
  await waitForText('.count-list', 'complete 3');
  await waitForText('.outputs', 'number.txt');
  await waitForText('#task-rows', '1\\.2');
  await waitForText('.graph', 'numbers');
  assert.equal(await page.locator('.graph a[aria-label="step echo"]').first().textContent(), 'step echo (scatter)echo');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'run.png'), fullPage: true });

  // Read a task's log.
  await page.locator('#task-rows a').filter({ hasText: '1.1' }).first().click();
  await waitForText('main h1', 'Task 1\\.1');
  await waitForText('#log-stdout', '^2\\n$');
  assert.match(await text('.command'), /^echo 2$/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'task-log.png') });

  // The seeded 100,000-task run: counts, keyset pages, and a jump to the last task.
  await page.goto(`${base}/#/runs/${seeded.runId}`);
  await waitForText('.count-list', 'total 100010');
  await page.selectOption('#task-page-size', '500');
  await waitForText('.pager span', 'Page 1: tasks 0 to ');
  for (let i = 2; i <= 4; i++) {
    await page.locator('.pager button:last-child').first().click();
    await waitForText('.pager span', `Page ${i}:`);
  }
  assert.match(await text('.pager span'), /^Page 4: tasks 6\.\d+ to 6\.\d+$/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'tasks-100k.png') });
  await page.fill('#jump-task', '11.49999');
  await page.click('#jump-task ~ button');
  await waitForText('main h1', 'Task 11\\.49999');

  // Counts are links: "failed" narrows the table to the failed tasks, in a URL that can be shared.
  await page.goto(`${base}/#/runs/${seeded.runId}`);
  await waitForText('.count-list', `failed ${failedTasks}`);
  await page.locator('.count-list a').filter({ hasText: 'failed' }).first().click();
  await waitForText('#task-filter', 'state failed');
  await waitForText('.pager span', 'Page 1: tasks 6\\.92 to ');
  await page.goto(`${base}/#/runs/${seeded.runId}?state=failed&from=11.40000`);
  await waitForText('.pager span', 'Page 1: tasks 11\\.40\\d{3} to ');
  // Failure groups with their stderr tail; a group's link lists its tasks.
  await waitForText('.failure-groups', 'exit code 1');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'run-failures.png') });
  await page.locator('.failure-groups a').first().click();
  await waitForText('#task-filter', 'failure group');
  await waitForText('#task-rows', 'failed');
  // Slowest steps from the usage counters; the largest tasks first; a table started at a task.
  await waitForText('#slowest-steps', 'MiB');
  await page.locator('a').filter({ hasText: 'Largest tasks' }).first().click();
  await waitForText('#task-filter', 'most memory');
  await waitForText('#task-rows', 'MiB');
  await page.fill('#jump-task', '6.100');
  await page.click('#list-from-task');
  await waitForText('.pager span', 'Page 1: tasks 6\\.100 to ');

  // Cancel a running run from its page.
  const body = await multipartBody(
    { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'sleep.cwl', workflow_params: JSON.stringify({ marker: `browser-${process.pid}` }) },
    [{ name: 'sleep.cwl', content: SLEEPING_TOOL }],
  );
  const submitted = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload: body.payload, headers: { ...body.headers, authorization: auth } });
  const sleeping = (submitted.json() as { run_id: string }).run_id;
  await page.goto(`${base}/#/runs/${sleeping}`);
  await waitForText('.facts', 'RUNNING', 120_000);
  await page.click('#cancel-run');
  await waitForText('.facts', 'CANCELED', 120_000);

  // Phone width: the runs list and a run page still fit.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/#/runs`);
  await waitForText('tbody', sleeping);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'runs-phone.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'runs.png') });

  assert.deepEqual(problems, [], 'no script errors and no CSP violations');
});
