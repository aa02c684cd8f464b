/**
 * What a job can see, asserted on its mount list: its own out/ and tmp/ writable, stage/ and
 * the real files behind its staged inputs read-only, nothing else of the data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jobConfinement } from '../../src/engine/job/job-mounts.js';
import { stageValues } from '../../src/engine/job/staging.js';
import { PathPolicy } from '../../src/engine/values/path-policy.js';
import type { Mount } from '../../src/executors/executor.js';

async function runLayout(t: { after: (fn: () => Promise<void>) => void }) {
  const dataDir = await realpath(await mkdtemp(path.join(tmpdir(), 'wes-mounts-')));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const runDir = path.join(dataDir, 'runs', 'r1');
  const jobDir = path.join(runDir, 'jobs', '2-tool');
  const dirs = { outdir: path.join(jobDir, 'out'), tmpdir: path.join(jobDir, 'tmp'), stageDir: path.join(jobDir, 'stage') };
  await mkdir(dirs.outdir, { recursive: true });
  await mkdir(dirs.tmpdir, { recursive: true });
  await mkdir(path.join(runDir, 'attachments'), { recursive: true });
  await writeFile(path.join(dataDir, 'wes.sqlite'), 'secret');
  await mkdir(path.join(dataDir, 'runs', 'other', 'attachments'), { recursive: true });
  await writeFile(path.join(dataDir, 'runs', 'other', 'attachments', 'private.txt'), 'other user');
  return { dataDir, runDir, jobDir, dirs };
}

function sees(mounts: readonly Mount[], file: string): Mount | undefined {
  return mounts.find((m) => file === m.jobPath || file.startsWith(`${m.jobPath}/`));
}

test('a job sees its out/ and tmp/ writable and nothing else when it has no inputs', async (t) => {
  const { dataDir, dirs } = await runLayout(t);
  const { mounts, network } = await jobConfinement(dirs, { network: false, inplaceUpdate: false });
  assert.deepEqual(mounts, [
    { hostPath: dirs.outdir, jobPath: dirs.outdir, writable: true },
    { hostPath: dirs.tmpdir, jobPath: dirs.tmpdir, writable: true },
  ]);
  assert.equal(network, false);
  assert.equal(sees(mounts, path.join(dataDir, 'wes.sqlite')), undefined);
});

test('staged inputs are seen read-only at the path their symlink names, and nothing beside them', async (t) => {
  const { dataDir, runDir, jobDir, dirs } = await runLayout(t);
  const input = path.join(runDir, 'attachments', 'in.txt');
  const sibling = path.join(runDir, 'attachments', 'not-an-input.txt');
  const earlier = path.join(runDir, 'jobs', '1-step', 'out', 'result.txt');
  await writeFile(input, 'x');
  await writeFile(sibling, 'y');
  await mkdir(path.dirname(earlier), { recursive: true });
  await writeFile(earlier, 'z');
  await stageValues(
    {
      a: { class: 'File', location: `file://${input}` },
      b: [{ class: 'File', location: `file://${earlier}` }],
      literal: { class: 'File', basename: 'lit.txt', contents: 'inline' },
    },
    dirs.stageDir,
    await PathPolicy.create(runDir),
  );
  const { mounts } = await jobConfinement(dirs, { network: true, inplaceUpdate: false });
  assert.deepEqual(sees(mounts, input), { hostPath: input, jobPath: input, writable: false });
  assert.deepEqual(sees(mounts, earlier), { hostPath: earlier, jobPath: earlier, writable: false });
  assert.deepEqual(sees(mounts, path.join(dirs.stageDir, '2', 'lit.txt')), { hostPath: dirs.stageDir, jobPath: dirs.stageDir, writable: false });
  for (const hidden of [sibling, path.join(dataDir, 'wes.sqlite'), path.join(dataDir, 'runs', 'other', 'attachments', 'private.txt'), path.join(runDir, 'jobs', '1-step')]) {
    assert.equal(sees(mounts, hidden), undefined, `${hidden} must not be visible`);
  }
  assert.ok(mounts.every((m) => m.hostPath.startsWith(`${jobDir}/`) || !m.writable), 'only the job directory is writable');
});

test('a symlink chain is seen at the named path, backed by the real file; a dangling link adds nothing', async (t) => {
  const { runDir, dirs } = await runLayout(t);
  const real = path.join(runDir, 'attachments', 'real.txt');
  const alias = path.join(runDir, 'attachments', 'alias.txt');
  await writeFile(real, 'r');
  await symlink(real, alias);
  await mkdir(path.join(dirs.stageDir, '0'), { recursive: true });
  await symlink(alias, path.join(dirs.stageDir, '0', 'alias.txt'));
  await symlink(path.join(runDir, 'missing'), path.join(dirs.stageDir, '0', 'dangling'));
  const { mounts } = await jobConfinement(dirs, { network: false, inplaceUpdate: false });
  assert.deepEqual(sees(mounts, alias), { hostPath: real, jobPath: alias, writable: false });
  assert.equal(sees(mounts, path.join(runDir, 'missing')), undefined);
});

test('InitialWorkDir links in out/ are writable only with InplaceUpdateRequirement; parents come before children', async (t) => {
  const { runDir, dirs } = await runLayout(t);
  const original = path.join(runDir, 'attachments', 'update-me.txt');
  await writeFile(original, '1');
  await symlink(original, path.join(dirs.outdir, 'update-me.txt'));
  const readOnly = await jobConfinement(dirs, { network: false, inplaceUpdate: false });
  assert.equal(sees(readOnly.mounts, original)?.writable, false);
  const inplace = await jobConfinement(dirs, { network: false, inplaceUpdate: true });
  assert.equal(sees(inplace.mounts, original)?.writable, true);
  for (const [i, mount] of inplace.mounts.entries()) {
    const parent = inplace.mounts.findIndex((m) => mount.jobPath.startsWith(`${m.jobPath}/`));
    assert.ok(parent === -1 || parent < i, `${mount.jobPath} is mounted before its parent`);
  }
});
