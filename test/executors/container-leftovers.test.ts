/**
 * Containers a killed server left behind are removed at the next start, and only those of its
 * own data directory whose server process is gone. Skips, saying why, where podman is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { detectContainerEngine } from '../../src/executors/container/container-engine.js';
import { JOB_LABEL, SERVER_LABEL, removeLeftoverContainers } from '../../src/executors/container/container-wrapper.js';
import { currentProcess, processKey } from '../../src/executors/local/process-identity.js';
import { buildTestImages } from '../helpers/test-images.js';

const detected = await detectContainerEngine(process.env, 'podman');
const engine = detected.engine;
const noPodman = engine === undefined ? `podman is not installed here: ${detected.problem}` : await buildTestImages('podman');

test('removeLeftoverContainers removes the containers of jobs below the data directory whose server is gone', { skip: noPodman ?? false }, async (t) => {
  assert.ok(engine !== undefined);
  const tag = randomBytes(4).toString('hex');
  const ours = `/tmp/wes-leftovers-${tag}/data`;
  const names = { mine: `wes-test-mine-${tag}`, other: `wes-test-other-${tag}`, live: `wes-test-live-${tag}` };
  const self = currentProcess();
  // A pid that never started at tick 1 in this boot: a server that is gone.
  const gone = processKey({ ...self, pid: self.pid, start: '1' });
  const job = `${ours}/runs/r/work/jobs/1-x`;
  t.after(async () => {
    for (const name of Object.values(names)) await engine.exec(['rm', '--force', '--time', '0', name]);
  });
  const { nofile, nproc } = engine.ulimits;
  const containers = [
    [names.mine, job, gone],
    [names.other, `${ours}-elsewhere/runs/r/work/jobs/1-x`, gone],
    [names.live, job, processKey(self)],
  ];
  for (const [name, jobId, server] of containers) {
    const started = await engine.exec([
      'run', '--detach', '--name', name, '--label', `${JOB_LABEL}=${jobId}`, '--label', `${SERVER_LABEL}=${server}`,
      '--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`,
      'docker.io/debian:stable-slim', 'sleep', '300',
    ]);
    assert.equal(started.code, 0, started.stderr);
  }
  assert.equal(await removeLeftoverContainers(engine, ours), 1);
  const left = (await engine.exec(['ps', '--all', '--format', '{{.Names}}'])).stdout.split('\n');
  assert.ok(!left.includes(names.mine), 'the left-over job container is gone');
  assert.ok(left.includes(names.other), "another data directory's container is kept");
  assert.ok(left.includes(names.live), 'the container of a live server is kept');
});
