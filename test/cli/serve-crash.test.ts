/**
 * `wes serve` as a real process killed with SIGKILL mid-run: the next start stops the jobs
 * the dead server left behind and resumes the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase } from '../helpers/dialects.js';
import { startServer, type Server } from '../helpers/wes-process.js';
import { processesMentioning } from '../helpers/processes.js';
import { SLEEPING_TOOL } from '../e2e/workflows.js';

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

test('after a crash the next server stops the orphaned jobs and resumes the run', async (t) => {
  const database = await createTestDatabase();
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) server.process.kill('SIGKILL');
    await database.drop();
  });
  const marker = `wes-crash-${randomUUID()}`;
  const first = await startServer(database);
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

  first.process.kill('SIGKILL');
  await new Promise((resolve) => first.process.once('exit', resolve));
  assert.deepEqual(processesMentioning(marker), orphans, 'the job should outlive a killed server');

  const second = await startServer(database);
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
});
