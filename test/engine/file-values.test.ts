/**
 * describePath: what an output is, its size and sha1, all read through one descriptor. Sizes
 * around the read chunk (64 KiB) check that the read loop stops at the file's end and nowhere
 * else; a FIFO or a socket a job leaves in its output directory is refused without blocking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describePath, FileContentsError } from '../../src/engine/values/file-values.js';
import { PathEscapeError, PathPolicy } from '../../src/engine/values/path-policy.js';

async function runDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'file-values-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a file\'s size and checksum are those of its whole content, at any size around the read chunk', async (t) => {
  const dir = await runDir(t);
  const policy = await PathPolicy.create(dir);
  for (const size of [0, 1, 3, 65_535, 65_536, 65_537, 131_072, 200_001]) {
    const content = randomBytes(size);
    const file = path.join(dir, `f${size}`);
    await writeFile(file, content);
    const value = await describePath(policy, file, true, `file of ${size} bytes`);
    assert.equal(value.class, 'File');
    assert.equal(value.size, size, `size of a ${size}-byte file`);
    assert.equal(value.checksum, `sha1$${createHash('sha1').update(content).digest('hex')}`, `checksum of a ${size}-byte file`);
  }
});

test('a directory is described as one, with or without checksums', async (t) => {
  const dir = await runDir(t);
  const policy = await PathPolicy.create(dir);
  await mkdir(path.join(dir, 'sub'));
  for (const withChecksum of [true, false]) {
    const value = await describePath(policy, path.join(dir, 'sub'), withChecksum, 'sub');
    assert.equal(value.class, 'Directory');
    assert.equal(value.checksum, undefined);
  }
});

test('a FIFO or a socket is refused as neither a regular file nor a directory, without blocking', async (t) => {
  const dir = await runDir(t);
  const policy = await PathPolicy.create(dir);
  const fifo = path.join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo failed');
  const socketPath = path.join(dir, 'socket');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  for (const [name, target] of [['fifo', fifo], ['socket', socketPath]]) {
    for (const withChecksum of [true, false]) {
      await assert.rejects(describePath(policy, target, withChecksum, name), (error: unknown) => {
        assert.ok(error instanceof FileContentsError, `${name}: ${String(error)}`);
        assert.equal(error.message, `${name} is not a regular file or directory`);
        return true;
      });
    }
  }
});

test('a link to a file outside the run is refused before anything is read', async (t) => {
  const dir = await runDir(t);
  const outside = await runDir(t);
  await writeFile(path.join(outside, 'secret'), 'not yours');
  await mkdir(path.join(dir, 'run'));
  const policy = await PathPolicy.create(path.join(dir, 'run'));
  await symlink(path.join(outside, 'secret'), path.join(dir, 'run', 'link'));
  await assert.rejects(describePath(policy, path.join(dir, 'run', 'link'), true, 'output link'), PathEscapeError);
});
