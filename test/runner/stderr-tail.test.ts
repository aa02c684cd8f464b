/**
 * The last stderr line a failure is grouped by: read from the end of the job's stderr only,
 * never through a link the job planted or outside its run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { lastLine, readStderrTail } from '../../src/runner/stderr-tail.js';
import { insertUser } from '../../src/store/queries/users.js';
import { insertJobs } from '../../src/store/queries/jobs.js';
import { insertRun } from '../../src/store/queries/runs.js';
import { storeWithLastQuery } from '../helpers/explain.js';

test('lastLine: the last non-blank line, without NULs or CR, at most 200 characters', () => {
  assert.equal(lastLine('a\nb\n'), 'b');
  assert.equal(lastLine('a\r\nsecond  \r\n\n  \n'), 'second');
  assert.equal(lastLine('no newline'), 'no newline');
  assert.equal(lastLine(''), '');
  assert.equal(lastLine('x\0y\n'), 'xy');
  assert.equal(lastLine(`${'é'.repeat(300)}\n`), 'é'.repeat(200));
});

test('readStderrTail reads the end of a large stderr and refuses planted links', async (t) => {
  const { store, database } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  const runDir = path.join(database.dataDir, 'run');
  fs.mkdirSync(runDir);
  const now = new Date().toISOString();
  const run = await insertRun(store.db, {
    uuid: 'r', user_id: user.id, workflow_id: null, state: 'RUNNING', request: '{}', run_dir: runDir,
    outputs: null, message: null, create_time: now, start_time: now, end_time: null, update_time: now,
  });
  const job = (stderr: string) => ({ state: 'running' as const, argv: '[]', exit_code: null, work_dir: null, stdout_path: null, stderr_path: stderr, outputs: null, message: null, create_time: now, start_time: now, end_time: null });
  const big = path.join(runDir, 'big.err');
  fs.writeFileSync(big, `${'noise line\n'.repeat(200_000)}Segmentation fault (core dumped)\n`);
  const outside = path.join(database.dataDir, 'secret.txt');
  fs.writeFileSync(outside, 'the secret\n');
  const planted = path.join(runDir, 'planted.err');
  fs.symlinkSync(outside, planted);
  const [bigJob, plantedJob, missingJob] = await insertJobs(store.db, [job(big), job(planted), job(path.join(runDir, 'never-written.err'))]);
  assert.equal(await readStderrTail(store.db, run.id, bigJob), 'Segmentation fault (core dumped)');
  assert.equal(await readStderrTail(store.db, run.id, plantedJob), '');
  assert.equal(await readStderrTail(store.db, run.id, missingJob), '');
});
