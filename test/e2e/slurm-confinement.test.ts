/**
 * Slurm jobs are confined as local ones are (WES_EXECUTOR=slurm with the default sandbox), on a
 * real cluster (CI starts a one-node one with scripts/slurm-test-cluster.sh): a hostile job
 * of a second user, run through Slurm, sees neither the database, nor another user's run, nor
 * the data directory (where the status files of every Slurm job are), and cannot forge a
 * status, and its usage is measured inside the sandbox; with NetworkAccess it gets a network
 * made on the node that reaches the machine's address but not its loopback, and cancel leaves
 * no slirp4netns behind; a DockerRequirement job runs in its image on the node, the server's
 * environment stays out of its batch script, and cancel leaves no container.
 * Without a cluster every test skips, saying why; the container tests also without podman.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { slurmClusterProblem, slurmJobActive } from '../helpers/slurm.js';
import { connectProgram, greeter, machineAddress } from '../helpers/network-probe.js';
import { buildTestImages } from '../helpers/test-images.js';
import { detectContainerEngine, type ContainerEngine } from '../../src/executors/container/container-engine.js';
import { JOB_LABEL } from '../../src/executors/container/container-wrapper.js';
import { allTasks, getJson, submitWorkflow, waitForState } from './helpers.js';

const noCluster = slurmClusterProblem();
/** In the server's environment, as a database password would be: it must not reach a batch script. */
const SECRET = `server-secret-${process.pid}`;
const detected = noCluster === undefined ? await detectContainerEngine({ ...process.env, WES_TEST_SECRET: SECRET }, 'podman') : undefined;
const noPodman = noCluster ?? (detected?.engine === undefined ? `podman is not installed here: ${detected?.problem}` : await buildTestImages('podman'));

/**
 * Reports, one "<what> <answer>" line each, what the job sees: each path readable or hidden,
 * the data directory's entries, whether it could write a status file where the Slurm jobs
 * write theirs, whether it is in a container, and its PID 1.
 */
function probeTool(requirements = ''): string {
  return `cwlVersion: v1.2
class: CommandLineTool
requirements: {${requirements}}
inputs:
  dataDir: {type: string, inputBinding: {position: 1}}
  paths: {type: 'string[]', inputBinding: {position: 2}}
baseCommand:
  - sh
  - -c
  - |
    data=$1; shift
    for p in "$@"; do
      if cat "$p" >/dev/null 2>&1 || ls "$p" >/dev/null 2>&1; then echo "path readable $p"; else echo "path hidden $p"; fi
    done
    echo "data $(ls -A "$data" 2>&1 | tr '\\n' ' ')"
    if echo "exited 0 0" > "$data/executor/slurm/999999.status" 2>/dev/null; then echo "forged status"; else echo "forged nothing"; fi
    if test -e /run/.containerenv; then echo "container yes"; else echo "container no"; fi
    echo "os $(. /etc/os-release; echo $VERSION_CODENAME)"
    echo "pid1 $(cat /proc/1/comm)"
    python3 -c 'bytearray(64 << 20)' 2>/dev/null || true
  - probe
outputs:
  report: {type: stdout}
stdout: report.txt
`;
}

interface RunLog {
  state: string;
  outputs: Record<string, { location: string }>;
}

async function report(app: TestApp, auth: string, runId: string): Promise<Map<string, string[]>> {
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  const text = (await app.app.inject({ url: new URL(log.outputs.report.location).pathname, headers: { authorization: auth } })).body;
  const lines = new Map<string, string[]>();
  for (const line of text.trim().split('\n')) {
    const [what, ...rest] = line.split(' ');
    lines.set(what, [...(lines.get(what) ?? []), rest.join(' ').trim()]);
  }
  return lines;
}

/** Slurm job ids the run's jobs got (their directories are below the run's). */
async function slurmIds(app: TestApp, runId: string): Promise<string[]> {
  const rows = await app.store.db.selectFrom('job').select('executor_job_id').where('work_dir', 'like', `%/runs/${runId}/%`).execute();
  return rows.flatMap((row) => (row.executor_job_id === null ? [] : [row.executor_job_id]));
}

/**
 * Bob's probe, run through Slurm with `requirements`, of the database, Alice's run and the
 * status directory: asserts it saw and forged nothing; returns what else it saw.
 */
async function hostileProbe(t: TestContext, containers?: ContainerEngine, requirements?: string) {
  const { app, bob, dataDir, hostile } = await twoUsers(t, containers);
  const runId = await submitWorkflow(app, bob.auth, 'probe.cwl', { dataDir, paths: hostile }, [{ name: 'probe.cwl', content: probeTool(requirements) }]);
  assert.equal(await waitForState(app, bob.auth, runId), 'COMPLETE');
  assert.match((await slurmIds(app, runId)).join(' '), /^\d+$/, 'the job ran through Slurm');
  const seen = await report(app, bob.auth, runId);
  assert.deepEqual(seen.get('path'), hostile.map((p) => `hidden ${p}`));
  // Of the data directory only the way down to the job's own mounts exists for the job.
  assert.deepEqual(seen.get('data'), ['runs']);
  assert.deepEqual(seen.get('forged'), ['nothing']);
  assert.equal(fs.existsSync(path.join(dataDir, 'executor', 'slurm', '999999.status')), false);
  return { app, bob, runId, seen };
}

async function twoUsers(t: TestContext, containers?: ContainerEngine) {
  const app = await buildTestApp(t, { engine: true, executor: 'slurm', containers });
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  // Alice's run keeps a secret among its files.
  const aliceRun = await submitWorkflow(app, alice.auth, 'probe.cwl', { dataDir: '/nonexistent', paths: [] }, [
    { name: 'probe.cwl', content: probeTool() },
    { name: 'secret.txt', content: 'alice only\n' },
  ]);
  assert.equal(await waitForState(app, alice.auth, aliceRun), 'COMPLETE');
  const { dataDir, sqlitePath } = app.database;
  const aliceDir = path.join(dataDir, 'runs', aliceRun);
  const secret = fs.readdirSync(aliceDir, { recursive: true, encoding: 'utf8' }).find((name) => path.basename(name) === 'secret.txt');
  assert.ok(secret !== undefined, "alice's run holds the secret");
  const hostile = [sqlitePath ?? path.join(dataDir, 'wes.sqlite'), aliceDir, path.join(aliceDir, secret), path.join(dataDir, 'executor', 'slurm')];
  return { app, bob, dataDir, hostile };
}

test("a Slurm job runs in the sandbox: it cannot read the database, another user's run or the data directory, nor forge a status; its usage is measured in there", { skip: noCluster ?? false }, async (t) => {
  const { app, bob, runId, seen } = await hostileProbe(t);
  assert.deepEqual(seen.get('container'), ['no']);
  assert.deepEqual(seen.get('pid1'), ['bwrap'], 'the job is the child of bubblewrap in its own PID namespace');
  // GNU time ran inside the sandbox: around it, it would have measured bwrap alone (2 MB).
  const task = (await allTasks(app, bob.auth, runId)).find((each) => each.name === 'probe.cwl');
  const resources = task?.resources as { max_rss_bytes?: number; cpu_seconds?: number } | undefined;
  assert.ok((resources?.max_rss_bytes ?? 0) >= 64 * 1024 * 1024 && resources?.cpu_seconds !== undefined, JSON.stringify(resources));
});

/**
 * A tool that tries each "host:port" of `targets` (5 s each) and prints one "<host:port>
 * connected <greeting>" or "<host:port> blocked <error>" line, then its nameserver line.
 */
function connectTool(targets: readonly string[], requirements = ''): string {
  const code = `${connectProgram(targets)}print(open('/etc/resolv.conf').read().strip())\n`;
  return `cwlVersion: v1.2
class: CommandLineTool
requirements: {${requirements}}
baseCommand: ${JSON.stringify(['python3', '-c', code])}
inputs: []
outputs:
  report: {type: stdout}
stdout: report.txt
`;
}

const address = machineAddress();

test("a sandboxed NetworkAccess job on Slurm reaches the machine's address but not its loopback (PostgreSQL, the API); without NetworkAccess it reaches nothing", { skip: noCluster ?? (address === undefined && 'no non-loopback IPv4 address here') }, async (t) => {
  assert.ok(address !== undefined);
  const app = await buildTestApp(t, { engine: true, executor: 'slurm' });
  const bob = await app.addUser('bob');
  const greeting = `hello-${process.pid}`;
  const port = await greeter(t, greeting);
  const outside = `${address}:${port}`;
  // The greeter also listens on 127.0.0.1; slirp's gateway 10.0.2.2 would be the host's loopback.
  const loopback = ['127.0.0.1:5432', `127.0.0.1:${port}`, '10.0.2.2:5432', `10.0.2.2:${port}`];
  const probe = async (requirements: string): Promise<string[]> => {
    const runId = await submitWorkflow(app, bob.auth, 'connect.cwl', {}, [{ name: 'connect.cwl', content: connectTool([outside, ...loopback], requirements) }]);
    t.after(() => killProcessesOfRun(runId));
    assert.equal(await waitForState(app, bob.auth, runId), 'COMPLETE');
    assert.match((await slurmIds(app, runId)).join(' '), /^\d+$/, 'the job ran through Slurm');
    // Its status is written once the network program has stopped slirp4netns.
    assert.deepEqual(slirpOfRun(runId), [], 'slirp4netns outlived the job');
    return [...(await report(app, bob.auth, runId)).entries()].flatMap(([what, answers]) => answers.map((answer) => `${what} ${answer}`));
  };
  const networked = await probe('NetworkAccess: {networkAccess: true}');
  assert.equal(networked.find((line) => line.startsWith(outside)), `${outside} connected ${greeting}`, networked.join('\n'));
  for (const target of loopback) assert.match(networked.find((line) => line.startsWith(`${target} `)) ?? '', / blocked /, networked.join('\n'));
  assert.ok(networked.includes('nameserver 10.0.2.3'), networked.join('\n'));
  const isolated = await probe('');
  for (const target of [outside, ...loopback]) assert.match(isolated.find((line) => line.startsWith(`${target} `)) ?? '', / blocked /, isolated.join('\n'));
});

test('cancel of a sandboxed NetworkAccess job on Slurm leaves neither the sandbox nor its slirp4netns', { skip: noCluster ?? false }, async (t) => {
  const app = await buildTestApp(t, { engine: true, executor: 'slurm' });
  const bob = await app.addUser('bob');
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements: {NetworkAccess: {networkAccess: true}}
baseCommand: [sh, -c, 'trap "" TERM; sleep 300']
inputs: []
outputs: []
`;
  const runId = await submitWorkflow(app, bob.auth, 'sleep.cwl', {}, [{ name: 'sleep.cwl', content: tool }]);
  t.after(() => killProcessesOfRun(runId));
  let slirp: string[] = [];
  await cancelOnceStarted(app, bob.auth, runId, "the job's slirp4netns", () => (slirp = slirpOfRun(runId)).length > 0);
  // Slurm kills what is left of a job KillWait after SIGTERM; the bound is for a hung test, not speed.
  for (const until = Date.now() + 30_000; Date.now() < until && (slirp.some(isSlirp) || processesOfRun(runId).length > 0); ) await delay(100);
  assert.deepEqual(slirp.filter(isSlirp), [], 'slirp4netns outlived the job');
  assert.deepEqual(processesOfRun(runId), []);
});

test('a DockerRequirement job on Slurm runs in its image and sees no other run, no database, no data directory; its batch script holds no server secret', { skip: noPodman ?? false }, async (t) => {
  const engine = detected?.engine;
  assert.ok(engine !== undefined);
  const { app, runId, seen } = await hostileProbe(t, engine, 'DockerRequirement: {dockerPull: docker.io/alpine:latest}');
  assert.deepEqual(seen.get('container'), ['yes']);
  // The test images are Debian bookworm under every name; the host may be too, the container marker tells them apart.
  assert.deepEqual(seen.get('os'), ['bookworm']);
  assert.deepEqual(await containersOfRun(engine, runId), []);
  // The podman client on the node gets what it needs of the server's environment, not its secrets.
  const [slurmId] = await slurmIds(app, runId);
  const script = spawnSync('scontrol', ['write', 'batch_script', slurmId, '-'], { encoding: 'utf8' });
  assert.equal(script.status, 0, script.stderr);
  assert.match(script.stdout, /podman/);
  assert.ok(!script.stdout.includes(SECRET), 'the server\'s environment is in the batch script');
});

test('cancel of a container job on Slurm that ignores SIGTERM leaves neither the Slurm job nor the container', { skip: noPodman ?? false }, async (t) => {
  const engine = detected?.engine;
  assert.ok(engine !== undefined);
  const app = await buildTestApp(t, { engine: true, executor: 'slurm', containers: engine });
  const bob = await app.addUser('bob');
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: docker.io/debian:stable-slim}
baseCommand: [sh, -c, 'trap "" TERM; sleep 300']
inputs: []
outputs: []
`;
  const runId = await submitWorkflow(app, bob.auth, 'sleep.cwl', {}, [{ name: 'sleep.cwl', content: tool }]);
  // A failed test leaves no container behind.
  t.after(async () => {
    for (const name of await containersOfRun(engine, runId)) await engine.exec(['rm', '--force', '--time', '0', name]);
  });
  await cancelOnceStarted(app, bob.auth, runId, 'the container', async () => (await containersOfRun(engine, runId)).length > 0);
  assert.deepEqual(await containersOfRun(engine, runId), []);
});

/** Once `started` holds (within a minute), cancels the run; asserts it and its Slurm job ended. */
async function cancelOnceStarted(app: TestApp, auth: string, runId: string, what: string, started: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await started())) {
    assert.ok(Date.now() < deadline, `${what} did not start`);
    await delay(100);
  }
  const [slurmId] = await slurmIds(app, runId);
  const canceled = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
  assert.equal(canceled.statusCode, 200, canceled.body);
  assert.equal(await waitForState(app, auth, runId), 'CANCELED');
  assert.equal(await slurmJobActive(slurmId), false);
}

/** Containers (running or not) of the run, found by the job label the wrapper sets. */
async function containersOfRun(engine: ContainerEngine, runId: string): Promise<string[]> {
  const listed = await engine.exec(['ps', '--all', '--format', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  const containers = JSON.parse(listed.stdout) as { Names?: string[]; Labels?: Record<string, string> | null }[];
  return containers.filter((c) => (c.Labels?.[JOB_LABEL] ?? '').includes(runId)).map((c) => c.Names?.[0] ?? '?');
}

function cmdline(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Processes of the run's batch jobs: named in their command line (the sandbox and its network
 * program) or working in a job directory (whatever the batch script started, orphans too).
 */
function processesOfRun(runId: string): string[] {
  const ofRun = (text: string): boolean => text.includes(`/runs/${runId}/`);
  return fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid && (ofRun(cmdline(pid)) || ofRun(`${cwdOf(pid)}/`)));
}

function cwdOf(pid: string): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

function isSlirp(pid: string): boolean {
  return cmdline(pid).startsWith('slirp4netns\0');
}

/** So that a failed test leaves nothing of the run running. */
function killProcessesOfRun(runId: string): void {
  for (const pid of processesOfRun(runId)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Ended meanwhile.
    }
  }
}

function slirpOfRun(runId: string): string[] {
  return processesOfRun(runId).filter(isSlirp);
}
