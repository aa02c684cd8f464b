/** The `wes` command as users run it: a real process against a real store and a listening server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { sharedTestDatabase, type TestApp } from '../helpers/test-app.js';
import type { TestDatabase } from '../helpers/dialects.js';
import { SCATTER_WORKFLOW } from '../e2e/workflows.js';

const run = promisify(execFile);
const WES = path.resolve('bin/wes.js');

function wes(database: TestDatabase, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, WES_DATA_DIR: database.dataDir };
  if (database.databaseUrl !== undefined) env.DATABASE_URL = database.databaseUrl;
  else delete env.DATABASE_URL;
  return run(process.execPath, [WES, ...args], { env });
}

async function listen(app: TestApp): Promise<string> {
  return app.app.listen({ port: 0, host: '127.0.0.1' });
}

test('wes seed writes a run that wes tasks reads back page by page through the API', async (t) => {
  const shared = await sharedTestDatabase(t);
  const { database } = shared;
  const { stdout } = await wes(database, ['seed', '--inputs', '2', '--steps', '6', '--mapped', '2', '--elements', '7', '--running', '1']);
  const seeded = JSON.parse(stdout.trim()) as { run_id: string; tasks: number; api_key: string };
  assert.equal(seeded.tasks, 2 + 4 + 2 * 7);
  const url = await listen(await shared.app());
  const tasks = await wes(database, ['tasks', seeded.run_id, '--url', url, '--key', seeded.api_key, '--page-size', '3']);
  const lines = tasks.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string });
  assert.equal(lines.length, seeded.tasks);
  assert.equal(new Set(lines.map((l) => l.id)).size, seeded.tasks);
  await assert.rejects(wes(database, ['status', seeded.run_id, '--url', url, '--key', 'wes_wrong']), /401: API key is not valid/);
});

test('wes user add and key create make keys that authenticate; wes submit runs a workflow', async (t) => {
  const shared = await sharedTestDatabase(t);
  const { database } = shared;
  const added = await wes(database, ['user', 'add', 'carol']);
  const firstKey = added.stdout.trim().split('\n').pop() ?? '';
  const second = (await wes(database, ['key', 'create', 'carol'])).stdout.trim();
  assert.match(firstKey, /^wes_/);
  assert.notEqual(firstKey, second);
  await assert.rejects(wes(database, ['user', 'add', 'carol']), /already exists/);
  await assert.rejects(wes(database, ['key', 'create', 'nobody']), /not found/);

  const url = await listen(await shared.app({ engine: true }));
  const dir = fs.mkdtempSync(path.join(database.dataDir, 'client-'));
  fs.writeFileSync(path.join(dir, 'scatter.cwl'), SCATTER_WORKFLOW);
  fs.writeFileSync(path.join(dir, 'params.json'), JSON.stringify({ numbers: [4, 5] }));
  const submitted = await wes(database, ['submit', path.join(dir, 'scatter.cwl'), '--params', path.join(dir, 'params.json'), '--json', '--url', url, '--key', second]);
  const { run_id: runId } = JSON.parse(submitted.stdout) as { run_id: string };
  let state = '';
  for (let i = 0; i < 300 && !['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR'].includes(state); i++) {
    state = (JSON.parse((await wes(database, ['status', runId, '--url', url, '--key', firstKey])).stdout) as { state: string }).state;
  }
  assert.equal(state, 'COMPLETE');
  const runs = JSON.parse((await wes(database, ['runs', '--url', url, '--key', firstKey])).stdout) as { runs: { run_id: string }[] };
  assert.deepEqual(runs.runs.map((r) => r.run_id), [runId]);
});
