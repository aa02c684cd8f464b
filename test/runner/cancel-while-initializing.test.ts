/**
 * A cancel that lands between QUEUED → INITIALIZING and → RUNNING must still end the run. The
 * window is a few milliseconds, so the test makes it happen: on SQLite the store's query log
 * runs synchronously after each statement, and a second connection moves the run to CANCELING
 * (as RunService.cancel would) right after the runner marked it INITIALIZING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { buildTestApp } from '../helpers/test-app.js';
import { createTestDatabase } from '../helpers/dialects.js';
import { ECHO_TOOL } from '../helpers/multipart.js';
import { allTasks, submitWorkflow, waitForState } from '../e2e/helpers.js';

test('a run canceled while initializing ends CANCELED without running a job', async (t) => {
  const database = await createTestDatabase('sqlite');
  let side: SQLite.Database | undefined;
  t.after(async () => {
    side?.close();
    await database.drop();
  });
  const app = await buildTestApp(t, {
    engine: true,
    database,
    onQuery: (sql, parameters) => {
      if (/^update "workflow_invocation" set "state" = \?/.test(sql) && parameters[0] === 'INITIALIZING') {
        side ??= new SQLite(database.sqlitePath);
        side.prepare("update workflow_invocation set state = 'CANCELING' where state = 'INITIALIZING'").run();
      }
    },
  });
  const { auth } = await app.addUser('alice');
  const runId = await submitWorkflow(app, auth, 'echo.cwl', { message: 'never' }, [{ name: 'echo.cwl', content: ECHO_TOOL }]);
  assert.equal(await waitForState(app, auth, runId), 'CANCELED');
  assert.equal(side === undefined, false, 'the run never reached INITIALIZING');
  const tasks = await allTasks(app, auth, runId);
  assert.ok(tasks.every((task) => task.cmd === undefined), JSON.stringify(tasks));
  await app.close();
});
