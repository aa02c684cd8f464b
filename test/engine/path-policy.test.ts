/**
 * The engine's one confinement check (src/engine/path-policy.ts) and the functions that read
 * through it, on a real file system: links out of the run, FIFOs, basenames, and the text
 * users see instead of server paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkBasename, PathEscapeError, PathPolicy } from '../../src/engine/values/path-policy.js';
import { describePath, listDirectory, readContents } from '../../src/engine/values/file-values.js';
import { stageAt } from '../../src/engine/job/staging.js';
import { publicText } from '../../src/run-layout.js';
import { appendRunLog, openRunFile, RunFileRefused } from '../../src/run-files.js';

async function layout(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), 'path-policy-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const run = join(root, 'runs', 'r1');
  const other = join(root, 'runs', 'r2');
  const allowed = join(root, 'shared');
  for (const dir of [join(run, 'out'), other, allowed]) await mkdir(dir, { recursive: true });
  await writeFile(join(root, 'wes.sqlite'), 'database');
  await writeFile(join(other, 'theirs.txt'), 'theirs');
  await writeFile(join(allowed, 'ref.txt'), 'reference');
  await writeFile(join(run, 'out', 'mine.txt'), 'mine');
  return { root, run, other, allowed, policy: await PathPolicy.create(run, [allowed]) };
}

test('reads: inside the run or an allowed directory, links resolved; anything else is refused', async (t) => {
  const { root, run, other, allowed, policy } = await layout(t);
  await symlink(join(root, 'wes.sqlite'), join(run, 'out', 'db'));
  await symlink(join(other, 'theirs.txt'), join(run, 'out', 'theirs'));
  await symlink(join(allowed, 'ref.txt'), join(run, 'out', 'ref'));
  assert.equal(await readContents(policy, join(run, 'out', 'mine.txt'), 'mine'), 'mine');
  assert.equal(await readContents(policy, join(run, 'out', 'ref'), 'ref'), 'reference');
  for (const path of [join(run, 'out', 'db'), join(run, 'out', 'theirs'), '/etc/passwd', join(run, '..')]) {
    await assert.rejects(readContents(policy, path, 'input x'), (e: Error) => e instanceof PathEscapeError && e.message === 'input x points outside the run');
    await assert.rejects(describePath(policy, path, true, 'input x'), PathEscapeError);
  }
  await assert.rejects(listDirectory(policy, join(root, 'runs'), true, true, 'dir'), PathEscapeError);
  // A listing that reaches a link out of the run fails instead of reporting the target's size and sha1.
  await assert.rejects(listDirectory(policy, join(run, 'out'), false, true, 'out'), /out\/db points outside the run/);
});

test('a FIFO planted where the engine reads is refused, not waited on', async (t) => {
  const { run, policy } = await layout(t);
  const fifo = join(run, 'out', 'fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readContents(policy, fifo, 'fifo'), /not a regular file/);
  await assert.rejects(describePath(policy, fifo, true, 'fifo'), /not a regular file/);
});

test('writes: inside `within`, never through a link, never to a parent that leads out', async (t) => {
  const { root, run, allowed, policy } = await layout(t);
  const out = join(run, 'out');
  await policy.writable(join(out, 'new', 'deeper', 'x'), 'x', out);
  await assert.rejects(policy.writable(join(out, '..', 'x'), 'x', out), /x leaves its directory/);
  await symlink(join(root, 'wes.sqlite'), join(out, 'link'));
  await assert.rejects(policy.writable(join(out, 'link'), 'x', out), /already exists as a link/);
  await symlink(allowed, join(out, 'shared'));
  await assert.rejects(policy.writable(join(out, 'shared', 'planted.txt'), 'x', out), /points outside the run/);
  await assert.rejects(policy.writable(join(out, 'shared', 'sub', 'planted.txt'), 'x', out), /points outside the run/);
  // Staging a copy through that link writes nothing into the allowed directory.
  const area = { policy, within: out };
  const value = { class: 'File', location: pathToFileURL(join(out, 'mine.txt')).href };
  await assert.rejects(stageAt(area, value, join(out, 'shared', 'copy.txt'), true), PathEscapeError);
  await assert.rejects(readFile(join(allowed, 'copy.txt')), { code: 'ENOENT' });
  // A secondary file is placed beside its primary under its basename: one segment, or nothing is placed.
  const primary = { class: 'File', contents: '', secondaryFiles: [{ class: 'File', basename: '..', contents: '' }] };
  await assert.rejects(stageAt(area, primary, join(out, 'z'), true), /basename "\.\." must be a single path segment/);
});

test('basenames are single path segments', () => {
  for (const bad of ['', '.', '..', 'a/b', '../x', '/etc', 'a\0b']) assert.throws(() => checkBasename(bad, 'File'), PathEscapeError);
  for (const good of ['a.txt', '.hidden', '..x', 'x..']) assert.equal(checkBasename(good, 'File'), good);
});

test('users see attachment and run-relative names, never the data directory', () => {
  const run = '/srv/wes/runs/.incoming-Ab12';
  assert.equal(publicText(`file://${run}/attachments/sub/x.cwl: bad`, run), 'sub/x.cwl: bad');
  assert.equal(publicText(`${run}/work/jobs/1-a/out/o.txt does not exist`, run), 'work/jobs/1-a/out/o.txt does not exist');
  assert.equal(publicText('/srv/wes/secret.txt and /srv/wes/runs/other/x', run), '<data dir>/secret.txt and <data dir>/runs/other/x');
});

test('run files: logs are never opened or appended through a link', async (t) => {
  const { root, run } = await layout(t);
  const log = join(run, 'engine.log');
  await symlink(join(root, 'wes.sqlite'), log);
  await appendRunLog(log, 'line\n');
  assert.equal(await readFile(join(root, 'wes.sqlite'), 'utf8'), 'database');
  await assert.rejects(openRunFile({ path: log, runDir: run, followLinks: false }), RunFileRefused);
  // Outputs may be links, but only to files inside the run.
  await assert.rejects(openRunFile({ path: log, runDir: run, followLinks: true }), RunFileRefused);
  assert.equal(await openRunFile({ path: join(run, 'none.log'), runDir: run, followLinks: false }), undefined);
  const opened = await openRunFile({ path: join(run, 'out', 'mine.txt'), runDir: run, followLinks: false });
  assert.equal(opened?.size, 4);
  await opened?.handle.close();
});
