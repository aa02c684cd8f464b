/**
 * How `wes serve` and `wes user add` pick the job sandbox when bubblewrap is missing (a PATH
 * without bwrap stands in for a machine without the package): never a silent fallback.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.js';

const WES = path.resolve('bin/wes.js');
const NO_BWRAP = '/nonexistent';

function envFor(database: TestDatabase, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WES_DATA_DIR: database.dataDir, PATH: NO_BWRAP, ...extra };
  if (database.databaseUrl !== undefined) env.DATABASE_URL = database.databaseUrl;
  else delete env.DATABASE_URL;
  delete env.WES_JOB_SANDBOX;
  return { ...env, ...extra };
}

async function database(t: TestContext): Promise<TestDatabase> {
  const db = await createTestDatabase();
  t.after(() => db.drop());
  return db;
}

/** Starts `wes serve`, returns its output up to the listening line and its service-info. */
async function serveOnce(env: NodeJS.ProcessEnv): Promise<{ output: string; tags: Record<string, string> }> {
  const child = spawn(process.execPath, [WES, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        const match = /wes-server listening on (http:\/\/[^/\s]+)/.exec(output);
        if (match !== null) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`wes serve exited with ${code}: ${output}`)));
    });
    const info = (await (await fetch(`${url}/ga4gh/wes/v1/service-info`)).json()) as { tags: Record<string, string> };
    return { output, tags: info.tags };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

test('WES_JOB_SANDBOX=bwrap without bubblewrap: the server does not start and names the package', async (t) => {
  const db = await database(t);
  const result = spawnSync(process.execPath, [WES, 'serve', '--port', '0'], { env: envFor(db, { WES_JOB_SANDBOX: 'bwrap' }), encoding: 'utf8' });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /install the "bubblewrap" package/);
});

test('no bubblewrap and no setting: unconfined jobs, said loudly, and a second user is refused', async (t) => {
  const db = await database(t);
  const env = envFor(db, {});
  const { output, tags } = await serveOnce(env);
  assert.match(output, /WARNING: JOBS ARE NOT SANDBOXED/);
  assert.match(output, /job sandbox: none-single-user/);
  assert.equal(tags.job_sandbox, 'none-single-user');
  const refused = spawnSync(process.execPath, [WES, 'user', 'add', 'bob'], { env, encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /cannot add user "bob": .*install the "bubblewrap" package/);

  const accepted = spawnSync(process.execPath, [WES, 'user', 'add', 'bob'], { env: { ...env, WES_JOB_SANDBOX: 'none' }, encoding: 'utf8' });
  assert.equal(accepted.status, 0, accepted.stderr);
});

test('WES_JOB_SANDBOX=none: the operator accepted unconfined jobs, and the start-up log says so', async (t) => {
  const db = await database(t);
  const { output, tags } = await serveOnce(envFor(db, { WES_JOB_SANDBOX: 'none' }));
  assert.match(output, /WARNING: WES_JOB_SANDBOX=none: jobs run unconfined/);
  assert.equal(tags.job_sandbox, 'none');
});

test('with bubblewrap installed the server sandboxes jobs by default', async (t) => {
  const db = await database(t);
  const { output, tags } = await serveOnce({ ...envFor(db, {}), PATH: process.env.PATH });
  assert.match(output, /jobs run in a bubblewrap sandbox \(bubblewrap \d/);
  assert.equal(tags.job_sandbox, 'bwrap');
});
