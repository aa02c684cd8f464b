/**
 * The heartbeat's cost does not grow with the runs a server holds: each beat renews the lease,
 * reads the server's CANCELING runs in one query, releases gone servers and claims, whatever
 * the number of runs. Counted from the queries the store really issues.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { openStore } from '../../src/store/connect.js';
import { insertRun } from '../../src/store/queries/runs.js';
import { insertUser } from '../../src/store/queries/users.js';
import { Runner } from '../../src/runner/runner.js';
import { ServerLease } from '../../src/runner/server-lease.js';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { createTestDatabase } from '../helpers/dialects.js';

for (const held of [0, 200]) {
  test(`a heartbeat costs the same few queries with ${held} leased runs`, async (t) => {
    const database = await createTestDatabase();
    const statements: string[] = [];
    const store = await openStore({ ...database, onQuery: (sql) => statements.push(sql) });
    const executor = new LocalExecutor({ maxJobs: 1 });
    t.after(async () => {
      await executor.shutdown();
      await store.close();
      await database.drop();
    });
    const now = new Date().toISOString();
    const user = await insertUser(store.db, 'u', false, now);
    await store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < held; i++) {
        await insertRun(trx, {
          uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, user_id: user.id, workflow_id: null, state: 'CANCELING',
          request: '{}', run_dir: '/x', outputs: null, message: null, create_time: now, start_time: null, end_time: null, update_time: now,
        });
      }
    });
    const lease = await ServerLease.register(store.db, { leaseSeconds: 1, exclusive: false });
    await store.db.updateTable('workflow_invocation').set({ server_id: lease.serverId }).where('state', '=', 'CANCELING').execute();
    const runner = new Runner({ db: store.db, executor, allowedUrlPrefixes: [], lease });
    statements.length = 0;
    const renewals = () => statements.filter((sql) => /^update "wes_server" set "expires_at"/.test(sql)).length;
    for (let i = 0; i < 100 && renewals() < 4; i++) await delay(100);
    await runner.stop();
    const beats = renewals();
    const cancelChecks = statements.filter((sql) => /^select "id" from "workflow_invocation" where "state" = /.test(sql)).length;
    const work = statements.filter((sql) => !/^(begin|commit|rollback)/i.test(sql));
    assert.ok(beats >= 4, `${beats} heartbeats`);
    // The last beat may have been stopped after its renewal.
    assert.ok(cancelChecks === beats || cancelChecks === beats - 1, `${cancelChecks} cancel checks for ${beats} heartbeats`);
    // Renew, cancel check, this host's servers, expired servers, claim; then the stop's release (2).
    assert.ok(work.length <= beats * 5 + 2, `${work.length} queries for ${beats} heartbeats:\n${work.join('\n')}`);
  });
}
