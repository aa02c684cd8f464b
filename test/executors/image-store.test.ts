/**
 * ImageStore with a real podman: every DockerRequirement way to get an image (build, import,
 * load, pull) and the de-duplication that makes a scatter check its image once. Skips, saying
 * why, where podman is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { ContainerEngine, detectContainerEngine } from '../../src/executors/container/container-engine.js';
import { ImageStore, ImageUnavailableError } from '../../src/executors/container/image-store.js';
import { buildTestImages } from '../helpers/test-images.js';

const detected = await detectContainerEngine(process.env, 'podman');
const engine = detected.engine;
const noPodman = engine === undefined ? `podman is not installed here: ${detected.problem}` : await buildTestImages('podman');
const needsPodman = { skip: noPodman ?? false };

function sh(command: string, args: readonly string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd }, (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${error.message}: ${stderr}`))));
  });
}

/** A fresh image name, removed after the test. */
function imageName(t: TestContext, what: string): string {
  assert.ok(engine !== undefined);
  const name = `localhost/wes-test-${what}:${randomBytes(4).toString('hex')}`;
  t.after(() => engine.exec(['rmi', '--force', name]).then(() => undefined));
  return name;
}

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wes-images-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('dockerFile: the Dockerfile text is built into the image', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const image = imageName(t, 'build');
  await new ImageStore(engine).ensure(image, { kind: 'build', dockerfile: 'FROM docker.io/debian:stable-slim\nRUN echo built > /built.txt\n' });
  const { nofile, nproc } = engine.ulimits;
  const out = await engine.exec(['run', '--rm', '--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`, image, 'cat', '/built.txt']);
  assert.equal(out.stdout, 'built\n', out.stderr);
});

test('dockerImport and dockerLoad: archives become the named image', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const dir = await scratch(t);
  await writeFile(join(dir, 'hello.txt'), 'hello\n');
  await sh('tar', ['-cf', join(dir, 'rootfs.tar'), 'hello.txt'], dir);
  const imported = imageName(t, 'import');
  const store = new ImageStore(engine);
  await store.ensure(imported, { kind: 'import', archive: join(dir, 'rootfs.tar') });
  assert.equal((await engine.exec(['image', 'inspect', imported])).code, 0);

  const saved = join(dir, 'image.tar');
  assert.equal((await engine.exec(['save', '--output', saved, imported])).code, 0);
  const loaded = imageName(t, 'load');
  await store.ensure(loaded, { kind: 'load', archive: saved });
  const ids = await Promise.all([imported, loaded].map(async (i) => (await engine.exec(['image', 'inspect', '--format', '{{.Id}}', i])).stdout));
  assert.equal(ids[0], ids[1], 'the loaded image is the saved one under the new name');
});

test('a missing image that cannot be pulled rejects naming the image and the engine reason', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const image = imageName(t, 'missing');
  const store = new ImageStore(engine);
  await assert.rejects(store.ensure(image, undefined), (error: unknown) => {
    assert.ok(error instanceof ImageUnavailableError);
    assert.match(error.message, new RegExp(`^container image ${image} is not available: \\S`));
    return true;
  });
});

test('a scatter of 200 jobs on one image checks it once', needsPodman, async (t) => {
  assert.ok(engine !== undefined);
  const dir = await scratch(t);
  // The real podman, behind a script that records each call.
  const counting = join(dir, 'podman');
  await writeFile(counting, `#!/bin/sh\necho "$*" >> ${join(dir, 'calls')}\nexec ${engine.binary} "$@"\n`);
  await chmod(counting, 0o755);
  const store = new ImageStore(new ContainerEngine({ ...engine, binary: counting }));
  await Promise.all(Array.from({ length: 200 }, () => store.ensure('docker.io/debian:stable-slim', undefined)));
  await store.ensure('docker.io/debian:stable-slim', undefined);
  const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n');
  assert.deepEqual(calls.map((c) => c.split(' ').filter((w) => !w.startsWith('--') && !w.startsWith('/'))[0]), ['image']);
});
