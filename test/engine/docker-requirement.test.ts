/**
 * containerFor: which image a job runs in and how to get it, from DockerRequirement as a
 * requirement or a hint, with or without a container engine; values that could be read as
 * engine options or name files outside the run are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Requirement } from '../../src/engine/cwl/model.js';
import { containerFor } from '../../src/engine/job/docker-requirement.js';
import { JobFailedError } from '../../src/engine/job/job-context.js';
import type { RequirementScope } from '../../src/engine/cwl/requirements.js';

const docker = (fields: Record<string, string>): Requirement => ({ class: 'DockerRequirement', ...fields }) as Requirement;
const asRequirement = (r: Requirement): RequirementScope => ({ overrides: [], requirements: [r], hints: [] });
const asHint = (r: Requirement): RequirementScope => ({ overrides: [], requirements: [], hints: [r] });
const DOC = 'file:///runs/r/attachments/tool.cwl';

test('dockerPull as a requirement or a hint runs that image; without an engine a hint is ignored and a requirement fails', async () => {
  const pull = docker({ dockerPull: 'docker.io/debian:stable-slim' });
  assert.deepEqual(await containerFor(asRequirement(pull), DOC, true, '/runs/r'), {
    image: 'docker.io/debian:stable-slim',
    source: { kind: 'pull', reference: 'docker.io/debian:stable-slim' },
    outputDirectory: undefined,
    required: true,
  });
  assert.equal((await containerFor(asHint(pull), DOC, true, '/runs/r'))?.required, false);
  assert.equal(await containerFor(asHint(pull), DOC, false, '/runs/r'), undefined);
  await assert.rejects(containerFor(asRequirement(pull), DOC, false, '/runs/r'), /DockerRequirement is required but this server has no container engine/);
  assert.equal(await containerFor({ overrides: [], requirements: [], hints: [] }, DOC, true, '/runs/r'), undefined);
});

test('dockerPull short names are Docker Hub references, as docker reads them', async () => {
  for (const [name, reference] of [
    ['ubuntu:20.04', 'docker.io/library/ubuntu:20.04'],
    ['biocontainers/samtools:v1.9', 'docker.io/biocontainers/samtools:v1.9'],
    ['quay.io/biocontainers/bwa:0.7.17', 'quay.io/biocontainers/bwa:0.7.17'],
    ['localhost/mine', 'localhost/mine'],
    ['registry:5000/x', 'registry:5000/x'],
  ]) {
    const choice = await containerFor(asRequirement(docker({ dockerPull: name })), DOC, true, '/runs/r');
    assert.equal(choice?.image, reference);
    assert.deepEqual(choice?.source, { kind: 'pull', reference });
  }
});

test('dockerImageId names the image; dockerFile images are named by their text; dockerOutputDirectory is kept', async () => {
  const both = await containerFor(asRequirement(docker({ dockerPull: 'docker.io/python:3-slim', dockerImageId: 'mine:1' })), DOC, true, '/runs/r');
  assert.equal(both?.image, 'mine:1');
  assert.deepEqual(both?.source, { kind: 'pull', reference: 'docker.io/python:3-slim' });
  const built = (text: string) => containerFor(asRequirement(docker({ dockerFile: text, dockerOutputDirectory: '/output/' })), DOC, true, '/runs/r');
  const a = await built('FROM debian\n');
  assert.match(a?.image ?? '', /^localhost\/wes-cwl-build:[0-9a-f]{20}$/);
  assert.equal((await built('FROM debian\n'))?.image, a?.image);
  assert.notEqual((await built('FROM alpine\n'))?.image, a?.image);
  assert.equal(a?.outputDirectory, '/output');
  await assert.rejects(containerFor(asRequirement(docker({ dockerPull: 'x', dockerOutputDirectory: 'relative' })), DOC, true, '/runs/r'), JobFailedError);
});

test('an image name that an engine would read as an option is refused', async () => {
  for (const name of ['--privileged', '-v/:/host', 'debian stable', '']) {
    const field: Record<string, string> = name === '' ? { dockerImageId: '--privileged' } : { dockerPull: name };
    await assert.rejects(containerFor(asRequirement(docker(field)), DOC, true, '/runs/r'), /is not an image name/, name);
  }
});

test('dockerLoad and dockerImport take only archives inside the run directory', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'wes-docker-req-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const run = join(root, 'run');
  await writeFile(join(root, 'outside.tar'), '');
  await mkdir(join(run, 'attachments'), { recursive: true });
  await writeFile(join(run, 'attachments', 'image.tar'), '');
  const doc = pathToFileURL(join(run, 'attachments', 'tool.cwl')).href;
  const load = await containerFor(asRequirement(docker({ dockerLoad: 'image.tar' })), doc, true, run);
  assert.deepEqual(load?.source, { kind: 'load', archive: join(run, 'attachments', 'image.tar') });
  assert.match(load?.image ?? '', /^localhost\/wes-cwl-load:/);
  await assert.rejects(containerFor(asRequirement(docker({ dockerImport: '../../outside.tar' })), doc, true, run), /not a file attached to the run/);
  await assert.rejects(containerFor(asRequirement(docker({ dockerLoad: 'http://127.0.0.1/x.tar' })), doc, true, run), /only archives attached to the run/);
});
