/**
 * DockerRequirement jobs over the API with a real podman: the job runs in its image as the
 * server's uid; probed as a hostile user would, it sees neither the database, nor another run,
 * nor the data directory, cannot reach the API's port, and has no network unless NetworkAccess
 * says so; cancel and time limits leave no container behind; a missing image fails the run
 * naming the image. The tests that need podman skip, saying why, where it is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertMatchesSpec } from '../helpers/spec.js';
import { buildTestImages } from '../helpers/test-images.js';
import { getJson, submitWorkflow, waitForState } from '../e2e/helpers.js';
import { WC_TOOL } from '../e2e/workflows.js';
import { detectContainerEngine } from '../../src/executors/container/container-engine.js';
import { JOB_LABEL } from '../../src/executors/container/container-wrapper.js';

const detected = await detectContainerEngine(process.env, 'podman');
const engine = detected.engine;
const noPodman = engine === undefined ? `podman is not installed here: ${detected.problem}` : await buildTestImages('podman');
const needsPodman = { skip: noPodman ?? false };

interface RunLog {
  state: string;
  outputs: Record<string, unknown>;
  run_log: { system_logs?: string[] };
}

/** Reports what the job can see and reach; every line is "<what> <answer>". */
function probeTool(requirements: string): string {
  return `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: docker.io/debian:stable-slim}
${requirements}
inputs:
  port: {type: int, inputBinding: {position: 1}}
  dataDir: {type: string, inputBinding: {position: 2}}
  paths: {type: 'string[]', inputBinding: {position: 3}}
baseCommand:
  - sh
  - -c
  - |
    port=$1; data=$2; shift 2
    echo "data $(ls -A "$data" 2>&1 | tr '\\n' ' ')"
    echo "runs $(ls -A "$data/runs" 2>&1 | tr '\\n' ' ')"
    for p in "$@"; do
      if cat "$p" >/dev/null 2>&1 || ls "$p" >/dev/null 2>&1; then echo "path readable $p"; else echo "path hidden $p"; fi
    done
    if test -e /run/.containerenv || test -e /.dockerenv; then echo "container yes"; fi
    echo "os $(. /etc/os-release; echo $ID)"
    echo "uid $(id -u):$(id -g)"
    echo "net $(ls /sys/class/net | tr '\\n' ' ')"
    python3 -c 'import socket, sys; s = socket.socket(); s.settimeout(3); print("api", "open" if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else "closed")' "$port"
  - probe
outputs:
  report: {type: stdout}
stdout: report.txt
`;
}

const SLEEP_IN_CONTAINER = (extra: string): string => `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: docker.io/debian:stable-slim}
${extra}
# Ignores SIGTERM: the podman client forwards it, so only a real stop of the container ends this.
baseCommand: [sh, -c, 'trap "" TERM; sleep 300']
inputs: []
outputs: []
`;

function podman(args: readonly string[]): Promise<string> {
  assert.ok(engine !== undefined);
  return new Promise((resolve, reject) => {
    execFile(engine.binary, [...engine.globalArgs, ...args], (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${error.message}: ${stderr}`))));
  });
}

/** Containers (running or not) of the given run, found by the job label the wrapper sets. */
async function containersOfRun(runId: string): Promise<string[]> {
  const listed = JSON.parse(await podman(['ps', '--all', '--format', 'json'])) as { Names?: string[]; Labels?: Record<string, string> | null }[];
  return listed.filter((c) => (c.Labels?.[JOB_LABEL] ?? '').includes(runId)).map((c) => c.Names?.[0] ?? '?');
}

async function report(app: TestApp, auth: string, runId: string): Promise<Map<string, string[]>> {
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  const location = (log.outputs.report as { location: string }).location;
  const text = (await app.app.inject({ url: new URL(location).pathname, headers: { authorization: auth } })).body;
  const lines = new Map<string, string[]>();
  for (const line of text.trim().split('\n')) {
    const [what, ...rest] = line.split(' ');
    lines.set(what, [...(lines.get(what) ?? []), rest.join(' ')]);
  }
  return lines;
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory() && !entry.isSymbolicLink()) {
      const found = findFile(full, name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

test('a DockerRequirement job runs in its image as the server uid and sees no other run, no database, no API', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const app = await buildTestApp(t, { engine: true, containers: engine });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.app.server.address() as AddressInfo).port;
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const aliceRun = await submitWorkflow(app, alice.auth, 'wc.cwl', { file: { class: 'File', location: 'secret.txt' } }, [
    { name: 'wc.cwl', content: WC_TOOL },
    { name: 'secret.txt', content: 'alice only\n' },
  ]);
  assert.equal(await waitForState(app, alice.auth, aliceRun), 'COMPLETE');

  const dataDir = app.database.dataDir;
  const hostile = [app.database.sqlitePath ?? path.join(dataDir, 'wes.sqlite'), path.join(dataDir, 'runs', aliceRun), path.join(dataDir, 'executor')];
  const bobRun = await submitWorkflow(app, bob.auth, 'probe.cwl', { port, dataDir, paths: hostile }, [{ name: 'probe.cwl', content: probeTool('') }]);
  assert.equal(await waitForState(app, bob.auth, bobRun), 'COMPLETE');
  const seen = await report(app, bob.auth, bobRun);
  assert.deepEqual(seen.get('path'), hostile.map((p) => `hidden ${p}`));
  // Of the data directory, only the way down to the job's own mounts exists in the container.
  assert.deepEqual(seen.get('data'), ['runs ']);
  assert.deepEqual(seen.get('runs'), [`${bobRun} `]);
  assert.deepEqual(seen.get('container'), ['yes']);
  assert.deepEqual(seen.get('os'), ['debian']);
  assert.deepEqual(seen.get('uid'), [`${process.getuid?.()}:${process.getgid?.()}`]);
  assert.deepEqual(seen.get('net'), ['lo ']);
  assert.deepEqual(seen.get('api'), ['closed']);

  const output = findFile(path.join(dataDir, 'runs', bobRun), 'report.txt');
  assert.ok(output !== undefined, 'the report is in the run directory');
  assert.equal(fs.statSync(output).uid, process.getuid?.());
  assert.deepEqual(await containersOfRun(bobRun), []);
});

test('with NetworkAccess the container has a network, but still not the server loopback', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const app = await buildTestApp(t, { engine: true, containers: engine });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.app.server.address() as AddressInfo).port;
  const { auth } = await app.addUser('bob');
  const runId = await submitWorkflow(app, auth, 'probe.cwl', { port, dataDir: app.database.dataDir, paths: [] }, [
    { name: 'probe.cwl', content: probeTool('  NetworkAccess: {networkAccess: true}') },
  ]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const seen = await report(app, auth, runId);
  assert.notDeepEqual(seen.get('net'), ['lo '], 'an interface besides loopback');
  assert.deepEqual(seen.get('api'), ['closed']);
});

for (const [what, extra, finalState] of [
  ['cancel', '', 'CANCELED'],
  ['a time limit', '  ToolTimeLimit: {timelimit: 2}', 'EXECUTOR_ERROR'],
] as const) {
  test(`${what} stops the container: nothing of the run is left in podman ps -a`, needsPodman, async (t) => {
    assert.ok(engine !== undefined);
    const app = await buildTestApp(t, { engine: true, containers: engine });
    const { auth } = await app.addUser('alice');
    const runId = await submitWorkflow(app, auth, 'sleep.cwl', {}, [{ name: 'sleep.cwl', content: SLEEP_IN_CONTAINER(extra) }]);
    // Wait for the container itself: killing only the podman client would leave it running.
    for (let i = 0; i < 600 && (await containersOfRun(runId)).length === 0; i++) await delay(100);
    assert.equal((await containersOfRun(runId)).length, 1, 'the job container started');
    if (what === 'cancel') {
      const cancel = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
      assert.equal(cancel.statusCode, 200);
    }
    assert.equal(await waitForState(app, auth, runId), finalState);
    assert.deepEqual(await containersOfRun(runId), []);
  });
}

test('a missing image that cannot be pulled is an EXECUTOR_ERROR naming the image and the engine message', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const app = await buildTestApp(t, { engine: true, containers: engine });
  const { auth } = await app.addUser('alice');
  const image = 'localhost/wes-test-no-such-image:never';
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
baseCommand: 'true'
inputs: []
outputs: []
`;
  const runId = await submitWorkflow(app, auth, 'missing.cwl', {}, [{ name: 'missing.cwl', content: tool }]);
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  assertMatchesSpec('RunLog', log);
  const message = (log.run_log.system_logs ?? []).join('\n');
  assert.match(message, new RegExp(`container image ${image} is not available: .*\\S`));
  assert.match(message, /pull|registry|connect|lookup|refused/i, 'the engine says why');
});

test('service-info names the container engine', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const app = await buildTestApp(t, { engine: true, containers: engine });
  const response = await app.app.inject({ url: '/ga4gh/wes/v1/service-info' });
  const info = response.json() as { tags: Record<string, string> };
  assertMatchesSpec('ServiceInfo', info);
  assert.match(info.tags.container_engine, /^podman version \d/);
});

test('without a container engine a DockerRequirement fails the run and a hint runs on the host', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const tool = (section: string): string => `cwlVersion: v1.2
class: CommandLineTool
${section}:
  DockerRequirement: {dockerPull: docker.io/debian:stable-slim}
baseCommand: 'true'
inputs: []
outputs: []
`;
  const required = await submitWorkflow(app, auth, 'tool.cwl', {}, [{ name: 'tool.cwl', content: tool('requirements') }]);
  assert.equal(await waitForState(app, auth, required), 'EXECUTOR_ERROR');
  const log = await getJson<RunLog>(app, auth, `/runs/${required}`);
  assert.match((log.run_log.system_logs ?? []).join('\n'), /DockerRequirement is required but this server has no container engine/);
  const hinted = await submitWorkflow(app, auth, 'tool.cwl', {}, [{ name: 'tool.cwl', content: tool('hints') }]);
  assert.equal(await waitForState(app, auth, hinted), 'COMPLETE');
  const info = (await app.app.inject({ url: '/ga4gh/wes/v1/service-info' })).json() as { tags: Record<string, string> };
  assert.equal(info.tags.container_engine, 'none');
});
