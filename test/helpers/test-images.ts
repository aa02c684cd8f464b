/**
 * The container images tests use (docker.io/debian:stable-slim, python:3-slim, bash:4.4,
 * alpine:latest), built locally by scripts/build-test-images.sh since no registry is reachable:
 * a few seconds when they exist, about a minute the first time on a machine.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/build-test-images.sh');

/** Undefined when the images are ready, otherwise why they are not. */
export function buildTestImages(engine: 'podman' | 'docker'): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(script, { env: { ...process.env, WES_CONTAINER_ENGINE: engine }, timeout: 15 * 60 * 1000 }, (error, _stdout, stderr) => {
      done(error === null ? undefined : `building the test images failed: ${String(stderr).trim() || error.message}`);
    });
  });
}
