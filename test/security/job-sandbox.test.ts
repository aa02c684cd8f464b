/**
 * Hostile jobs of a second user, submitted over HTTP to a server whose jobs run in the
 * bubblewrap sandbox (the default): each probe is something an unconfined job did in the
 * issue (read the database, another run, /etc/shadow; reach the API or PostgreSQL; insert an
 * API key; leave a daemon running; allocate past its RAM; fork without bound), and each
 * assertion fails when jobs run unconfined (WES_JOB_SANDBOX=none).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { getJson, submitWorkflow, waitForState } from '../e2e/helpers.js';
import { processesMentioning } from '../helpers/processes.js';
import { hashApiKey } from '../../src/wes/user-service.js';

/** Runs `script` with /bin/sh; stdout is captured in out.txt. */
function shellTool(requirements: string[] = []): string {
  return `cwlVersion: v1.2
class: CommandLineTool
requirements:
  ShellCommandRequirement: {}
${requirements.map((r) => `  ${r}`).join('\n')}
inputs:
  script: string
arguments: [{valueFrom: $(inputs.script), shellQuote: false}]
stdout: out.txt
outputs:
  out: stdout
`;
}

/** A python3 program run from the shell without quoting troubles. */
function python(code: string): string {
  return `echo ${Buffer.from(code).toString('base64')} | base64 -d | python3`;
}

interface Finished {
  readonly state: string;
  /** Every file the run left in its directory (stdout, stderr, outputs), concatenated. */
  readonly everything: string;
  readonly stdout: string;
}

function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

async function runScript(app: TestApp, auth: string, script: string, requirements: string[] = []): Promise<Finished & { runId: string }> {
  const runId = await submitWorkflow(app, auth, 'probe.cwl', { script }, [{ name: 'probe.cwl', content: shellTool(requirements) }]);
  const state = await waitForState(app, auth, runId);
  const work = path.join(app.database.dataDir, 'runs', runId, 'work');
  const files = filesBelow(work);
  const everything = files.map((file) => fs.readFileSync(file, 'latin1')).join('\n');
  const stdout = files.filter((file) => path.basename(file) === 'out.txt').map((file) => fs.readFileSync(file, 'latin1')).join('');
  return { runId, state, everything, stdout };
}

async function twoUsers(t: TestContext, options: { jobMaxProcesses?: number } = {}) {
  const app = await buildTestApp(t, { engine: true, ...options });
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  return { app, alice, bob };
}

test('service-info says jobs run in the bubblewrap sandbox', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const info = await getJson<{ tags: Record<string, string> }>(app, '', '/service-info');
  assert.equal(info.tags.job_sandbox, 'bwrap');
});

test("a job cannot read the database, another user's run, the data directory or /etc/shadow", async (t) => {
  const { app, alice, bob } = await twoUsers(t);
  const secret = `ALICE-SECRET-${randomUUID()}`;
  const aliceRun = await submitWorkflow(app, alice.auth, 'probe.cwl', { script: 'cat secret.txt' }, [
    { name: 'probe.cwl', content: shellTool(['InitialWorkDirRequirement: {listing: [{entryname: secret.txt, entry: "' + secret + '"}]}']) },
  ]);
  assert.equal(await waitForState(app, alice.auth, aliceRun), 'COMPLETE');
  const { dataDir, sqlitePath } = app.database;
  const aliceDir = path.join(dataDir, 'runs', aliceRun);
  const aliceKeyHash = hashApiKey(alice.auth.slice('Bearer '.length));
  const shadow = fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  const aliceFile = filesBelow(aliceDir).find((file) => fs.readFileSync(file, 'utf8').includes(secret));
  assert.ok(aliceFile !== undefined, "alice's run holds the secret");

  const probes = [
    `cat ${sqlitePath}`,
    `cat ${aliceFile}`,
    `find ${aliceDir} -type f -exec cat {} +`,
    'cat /etc/shadow',
    `ls -aR ${dataDir} && cat ${path.join(dataDir, 'wes.sqlite')}`,
  ];
  for (const script of probes) {
    const probe = await runScript(app, bob.auth, script);
    assert.equal(probe.state, 'EXECUTOR_ERROR', `${script} should fail inside the sandbox`);
    for (const leak of [secret, aliceKeyHash, 'SQLite format 3', shadow]) {
      assert.ok(!probe.everything.includes(leak), `${script}: the run's files contain ${leak.slice(0, 20)}…`);
    }
    for (const name of [aliceRun, 'wes.sqlite', 'executor']) {
      assert.ok(!probe.stdout.includes(name), `${script}: the job saw ${name}`);
    }
  }
});

test('a job cannot change kernel settings (kernel.core_pattern would run a program as the host root)', async (t) => {
  const { app, bob } = await twoUsers(t);
  // access(W_OK) only: the probe must change nothing when it fails open.
  const files = ['/proc/sys/kernel/core_pattern', '/proc/sys/vm/drop_caches', '/proc/sys/kernel/modprobe', '/proc/sysrq-trigger'];
  const probe = await runScript(app, bob.auth, `for f in ${files.join(' ')}; do if [ -w $f ]; then echo WRITABLE $f; fi; done; echo checked`);
  assert.equal(probe.state, 'COMPLETE', probe.everything);
  assert.equal(probe.stdout.trim(), 'checked');
});

test('a job cannot connect to the API or PostgreSQL on loopback, with or without NetworkAccess', async (t) => {
  const { app, bob } = await twoUsers(t);
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const targets = [['127.0.0.1', address.port], ['127.0.0.1', 5432], ['10.0.2.2', address.port], ['10.0.2.2', 5432]];
  const code = `import socket
for host, port in ${JSON.stringify(targets)}:
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
        print('CONNECTED', host, port)
    except OSError as e:
        print('blocked', host, port, e)
`;
  for (const requirements of [[], ['NetworkAccess: {networkAccess: true}']]) {
    const probe = await runScript(app, bob.auth, python(code), requirements);
    assert.equal(probe.state, 'COMPLETE', probe.everything);
    assert.equal(probe.stdout.split('\n').filter((line) => line.startsWith('blocked')).length, targets.length, probe.stdout);
    assert.ok(!probe.stdout.includes('CONNECTED'), probe.stdout);
  }
});

test('a job cannot insert an API key for another user', async (t) => {
  const { app, alice, bob } = await twoUsers(t);
  const key = `wes_forged_${randomUUID()}`;
  const insert = `insert into api_key (user_id, key_hash, create_time) values (${alice.userId}, '${hashApiKey(key)}', 'x')`;
  const database = app.database.databaseUrl === undefined ? undefined : new URL(app.database.databaseUrl);
  const code = `import sqlite3, subprocess
try:
    c = sqlite3.connect('file:${app.database.sqlitePath}?mode=rw', uri=True)
    c.execute(${JSON.stringify(insert)})
    c.commit()
    print('INSERTED sqlite')
except Exception as e:
    print('sqlite refused', e)
r = subprocess.run(['psql', '-h', '127.0.0.1', '-U', 'postgres', '-d', ${JSON.stringify(database?.pathname.slice(1) ?? 'postgres')}, '-c', ${JSON.stringify(insert)}], capture_output=True, text=True)
print('psql', r.returncode, r.stdout, r.stderr)
`;
  const probe = await runScript(app, bob.auth, python(code), ['NetworkAccess: {networkAccess: true}']);
  assert.equal(probe.state, 'COMPLETE', probe.everything);
  assert.match(probe.stdout, /sqlite refused/);
  assert.match(probe.stdout, /psql [1-9]/);
  const forged = await app.app.inject({ url: '/ga4gh/wes/v1/runs', headers: { authorization: `Bearer ${key}` } });
  assert.equal(forged.statusCode, 401);
});

test('nothing a job forks survives it: a double-forked setsid sleep is gone when the job ends and after cancel', async (t) => {
  const { app, bob } = await twoUsers(t);
  const marker = `wes-sandbox-${randomUUID()}`;
  const daemon = `(setsid sh -c 'sleep 1000; true ${marker}' &)`;
  const ended = await runScript(app, bob.auth, `${daemon}; sleep 0.5; echo started`);
  assert.equal(ended.state, 'COMPLETE', ended.everything);
  assert.match(ended.stdout, /started/);
  assert.deepEqual(processesMentioning(marker), []);

  const runId = await submitWorkflow(app, bob.auth, 'probe.cwl', { script: `${daemon}; sleep 1001` }, [{ name: 'probe.cwl', content: shellTool() }]);
  for (let i = 0; i < 300 && !processesMentioning(marker).some((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sh\0-c\0sleep')); i++) {
    await delay(100);
  }
  assert.ok(processesMentioning(marker).length > 0, 'the daemon did not start');
  const cancel = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: bob.auth } });
  assert.equal(cancel.statusCode, 200);
  assert.equal(await waitForState(app, bob.auth, runId), 'CANCELED');
  assert.deepEqual(processesMentioning(marker), []);
});

test('a job allocating 1.5 GiB under ramMin: 256 is killed', async (t) => {
  const { app, bob } = await twoUsers(t);
  const probe = await runScript(app, bob.auth, python("b = b'x' * (1536 * 1024 * 1024)\nprint('ALLOCATED', len(b))"), [
    'ResourceRequirement: {ramMin: 256}',
  ]);
  assert.equal(probe.state, 'EXECUTOR_ERROR');
  assert.ok(!probe.stdout.includes('ALLOCATED'), probe.stdout);
});

test('a fork bomb stops at the process limit and the server keeps answering', async (t) => {
  const limit = 64;
  const { app, bob } = await twoUsers(t, { jobMaxProcesses: limit });
  const marker = `wes-bomb-${randomUUID()}`;
  const runId = await submitWorkflow(
    app,
    bob.auth,
    'probe.cwl',
    { script: `bomb() { bomb | bomb & }; bomb; sleep 3; echo ${marker}` },
    [{ name: 'probe.cwl', content: shellTool(['ToolTimeLimit: {timelimit: 30}']) }],
  );
  let most = 0;
  let state = 'QUEUED';
  while (!['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'].includes(state)) {
    most = Math.max(most, processesMentioning(marker).length);
    // A generous bound: the point is that the server answers at all while the bomb runs.
    const started = Date.now();
    state = (await getJson<{ state: string }>(app, bob.auth, `/runs/${runId}/status`)).state;
    assert.ok(Date.now() - started < 10_000, 'the server stopped answering');
    await delay(100);
  }
  assert.ok(most > 2, 'the bomb did not run');
  // The job's processes: the limit inside its cgroup, plus nothing outside it.
  assert.ok(most <= limit, `${most} processes at once, limit ${limit}`);
  assert.deepEqual(processesMentioning(marker), []);
});
