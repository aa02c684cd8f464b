/**
 * Planning a scatter's jobs: any set of elements (a first attempt plans ranges, a resumed one
 * what is missing) gets one QUEUED job each, linked at its element, in the same 3 statements
 * whatever the number of elements, and the step's collection count follows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openStore } from '../../src/store/connect.js';
import { listCollectionJobs, planCollectionJobs } from '../../src/store/queries/jobs.js';
import { insertUser } from '../../src/store/queries/users.js';
import { seedRun } from '../../src/wes/seed.js';
import { createTestDatabase } from '../helpers/dialects.js';

test('plans any set of elements in 3 statements, each job QUEUED at its element, and counts them on the step', async (t) => {
  const database = await createTestDatabase();
  const statements: string[] = [];
  const store = await openStore({ databaseUrl: database.databaseUrl, sqlitePath: database.sqlitePath, onQuery: (sql) => statements.push(sql) });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  const plansRight = async (elements: readonly number[]): Promise<void> => {
    const run = await seedRun(store.db, { userId: user.id, runsDir: database.dataDir, steps: [{ kind: 'collection', jobs: 0 }], logs: false });
    const step = await store.db
      .selectFrom('workflow_invocation_step')
      .select(['id', 'implicit_collection_jobs_id', 'sort_key'])
      .where('workflow_invocation_id', '=', run.invocationId)
      .executeTakeFirstOrThrow();
    const collectionId = Number(step.implicit_collection_jobs_id);
    const collection = { stepId: step.id, collectionId, invocationId: run.invocationId, sortKey: step.sort_key };
    const now = new Date().toISOString();
    const ids = await store.db.transaction().execute(async (trx) => {
      statements.length = 0;
      const planned = await planCollectionJobs(trx, collection, elements, now);
      assert.equal(statements.length, 3, `statements for ${elements.length} elements:\n${statements.join('\n')}`);
      return planned;
    });

    assert.equal(ids.length, elements.length);
    assert.equal(new Set(ids).size, ids.length, 'one job each');
    const rows = await listCollectionJobs(store.db, collectionId, 0, 3001);
    assert.deepEqual(
      rows.map((r) => [r.order_index, Number(r.job_id)]),
      elements.map((e, i) => [e, ids[i]]),
      'job i is linked at element i, and nothing else is',
    );
    assert.ok(rows.every((r) => r.state === 'queued'));
    const counted = await store.db.selectFrom('workflow_invocation_step').select('collection_job_count').where('id', '=', step.id).executeTakeFirstOrThrow();
    assert.equal(Number(counted.collection_job_count), elements.length);
  };
  // More elements than one statement's worth of bound values would hold (1,000 rows of VALUES).
  await plansRight(Array.from({ length: 2500 }, (_, e) => e));
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 60 }), (picked) => plansRight([...picked].sort((a, b) => a - b))),
    { numRuns: 10 },
  );
});
