/**
 * `wes serve` as a real process killed with SIGKILL mid-run: the next start stops the jobs
 * the dead server left behind and resumes the run. Unconfined jobs lead their own process
 * groups and outlive the server until then; sandboxed jobs die with it (bwrap
 * --die-with-parent), and the next start finds nothing left to stop.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase } from '../helpers/dialects.js';
import { startServer, type Server } from '../helpers/wes-process.js';
import { processesMentioning } from '../helpers/processes.js';
import { SLEEPING_TOOL } from '../e2e/workflows.js';

type Sandbox = 'bwrap' | 'none';

async function state(server: Server, runId: string): Promise<string> {
  const response = await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}/status`);
  return ((await response.json()) as { state: string }).state;
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const sandbox of ['none', 'bwrap'] as const) {
  test(`after a crash the next server stops the orphaned jobs and resumes the run (WES_JOB_SANDBOX=${sandbox})`, (t) => crashAndResume(t, sandbox));
}

async function crashAndResume(t: TestContext, sandbox: Sandbox): Promise<void> {
  const database = await createTestDatabase();
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) server.process.kill('SIGKILL');
    await database.drop();
  });
  const marker = `wes-crash-${randomUUID()}`;
  const first = await startServer(database, { WES_JOB_SANDBOX: sandbox });
  servers.push(first);
  const form = new FormData();
  form.append('workflow_type', 'CWL');
  form.append('workflow_type_version', 'v1.2');
  form.append('workflow_url', 'sleep.cwl');
  form.append('workflow_params', JSON.stringify({ marker }));
  form.append('workflow_attachment', new Blob([SLEEPING_TOOL]), 'sleep.cwl');
  const submitted = await fetch(`${first.url}/ga4gh/wes/v1/runs`, { method: 'POST', body: form });
  const { run_id: runId } = (await submitted.json()) as { run_id: string };
  await until(() => processesMentioning(marker).length >= 2, 'the job to start');
  const orphans = processesMentioning(marker);
  // The group is recorded right after the spawn; a kill before that would leave no record.
  const records = path.join(database.dataDir, 'executor');
  await until(() => fs.existsSync(records) && fs.readdirSync(records, { recursive: true, withFileTypes: true }).some((entry) => entry.isFile()), 'the job group to be recorded');

  first.process.kill('SIGKILL');
  await new Promise((resolve) => first.process.once('exit', resolve));
  if (sandbox === 'none') assert.deepEqual(processesMentioning(marker), orphans, 'the job should outlive a killed server');
  else await until(() => processesMentioning(marker).length === 0, 'the sandboxed job to die with its server');

  const second = await startServer(database, { WES_JOB_SANDBOX: sandbox });
  servers.push(second);
  assert.match(second.output.join(''), /stopped 1 job process group\(s\) left by a previous server/);
  assert.match(second.output.join(''), /resumed 1 active run/);
  assert.ok(orphans.every((pid) => !processesMentioning(marker).includes(pid)), 'an orphaned process survived the restart');
  await until(async () => (await state(second, runId)) === 'RUNNING' && processesMentioning(marker).length >= 2, 'the resumed job');

  await fetch(`${second.url}/ga4gh/wes/v1/runs/${runId}/cancel`, { method: 'POST' });
  await until(async () => (await state(second, runId)) === 'CANCELED', 'the cancel');
  assert.deepEqual(processesMentioning(marker), []);
  second.process.kill('SIGTERM');
  await new Promise((resolve) => second.process.once('exit', resolve));
}
