/**
 * The Slurm batch script run by a plain `sh` (as slurmd would, with SLURM_JOB_ID set), so its
 * quoting and status reporting are checked on machines without a Slurm cluster too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { JobSpec } from '../../src/executors/executor.js';
import { arrayScript, batchScript, shellQuote, unscriptable } from '../../src/executors/slurm/batch-script.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';

async function runScript(t: { after: (fn: () => Promise<void>) => void }, make: (dir: string) => JobSpec): Promise<{ dir: string; spec: JobSpec; status: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-script-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spec = make(dir);
  const result = spawnSync('sh', [], { input: batchScript(spec, dir), env: { SLURM_JOB_ID: '42' }, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return { dir, spec, status: await readFile(join(dir, '42.status'), 'utf8') };
}

test('shellQuote gives back every string unchanged through sh', () => {
  const samples = [``, `'`, `''`, `a'b`, `$(id)`, '`id`', `"$HOME"`, `\\`, `a\nb`, `*`, `-e`, `; rm -rf /`];
  for (const sample of samples) {
    const echoed = spawnSync('sh', ['-c', `printf %s ${shellQuote(sample)}`], { encoding: 'utf8' });
    assert.equal(echoed.stdout, sample);
  }
});

test('hostile argv and environment run as data; the status file has the exit code', async (t) => {
  const hostile = [`'; touch pwned; '`, `$(touch pwned)`, '`touch pwned`', `a\nb; touch pwned`, `"`, `\\`];
  const { dir, spec, status } = await runScript(t, (dir) => ({
    id: 'job',
    argv: ['sh', '-c', 'printf "[%s]" "$@"; printf "%s" "$EVIL"; exit 7', 'sh', ...hostile],
    cwd: dir,
    env: { PATH, EVIL: `$(touch pwned)'` },
    stdoutPath: join(dir, 'out'),
    stderrPath: join(dir, 'err'),
  }));
  // With GNU time on the node: user and system seconds and the peak resident set in KiB.
  assert.match(status, /^exited 7 \d+( \d+\.\d+ \d+\.\d+ \d+)?\n$/);
  assert.equal(await readFile(spec.stdoutPath, 'utf8'), hostile.map((arg) => `[${arg}]`).join('') + `$(touch pwned)'`);
  await assert.rejects(access(join(dir, 'pwned')));
});

test('a missing command or directory is reported as failed-to-start with the reason', async (t) => {
  const missing = await runScript(t, (dir) => ({ id: 'j', argv: ['no-such-command-xyz'], cwd: dir, env: { PATH }, stdoutPath: join(dir, 'o'), stderrPath: join(dir, 'e') }));
  assert.match(missing.status, /^failed-to-start \d+ command not found on PATH: no-such-command-xyz\n$/);
  const noDir = await runScript(t, (dir) => ({ id: 'j', argv: ['true'], cwd: join(dir, 'gone'), env: { PATH }, stdoutPath: join(dir, 'o'), stderrPath: join(dir, 'e') }));
  assert.match(noDir.status, /^failed-to-start \d+ cannot start true: working directory .*gone is not a directory\n$/);
});

test('a program the wrapper requires but the node lacks fails the job to start, naming the program and the node; present, the job runs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'batch-script-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const statusWith = async (requires: string[]): Promise<string> => {
    const spec: JobSpec = { id: 'j', argv: ['true'], cwd: dir, env: { PATH }, stdoutPath: join(dir, 'o'), stderrPath: join(dir, 'e') };
    const command = { argv: ['/bin/sh', '-c', 'exec "$@"', 'wrapper', 'true'], env: { PATH }, requires };
    const result = spawnSync('sh', [], { input: batchScript(spec, dir, { command }), env: { SLURM_JOB_ID: '42' }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return readFile(join(dir, '42.status'), 'utf8');
  };
  const host = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim();
  const missing = await statusWith(['sh', 'no-such-slirp-xyz']);
  assert.equal(missing.replace(/^failed-to-start \d+ /, ''), `cannot start true: no-such-slirp-xyz is not installed on Slurm node ${host} (command not found on PATH: no-such-slirp-xyz)\n`);
  assert.match(await statusWith(['sh']), /^exited 0 /);
});

test('a NUL byte or an invalid variable name makes no script', () => {
  const base = { id: 'j', cwd: '/', env: { PATH }, stdoutPath: '/o', stderrPath: '/e' };
  assert.match(unscriptable({ ...base, argv: ['echo', 'a\0b'] }) ?? '', /NUL/);
  assert.match(unscriptable({ ...base, argv: ['true'], env: { 'A=B': 'x' } }) ?? '', /variable name/);
  assert.equal(unscriptable({ ...base, argv: ['true'] }), undefined);
});

test('the status carries the job\'s CPU time and peak memory when GNU time is on the node', { skip: !existsSync('/usr/bin/time') && 'no /usr/bin/time here' }, async (t) => {
  const { status } = await runScript(t, (dir) => ({
    id: 'job',
    argv: ['sh', '-c', 'head -c 40000000 /dev/zero | od >/dev/null; exit 5'],
    cwd: dir,
    env: { PATH },
    stdoutPath: join(dir, 'out'),
    stderrPath: join(dir, 'err'),
  }));
  const match = /^exited 5 \d+ (\d+\.\d+) (\d+\.\d+) (\d+)\n$/.exec(status);
  assert.ok(match, status);
  assert.ok(Number(match[1]) + Number(match[2]) > 0, status);
  assert.ok(Number(match[3]) > 0, status);
});

test("an array's script runs its element's own script, whose status is named after the element, not the element's Slurm job id", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'batch-script-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const scripts = join(dir, "it's scripts");
  await mkdir(scripts);
  for (const i of [0, 1]) {
    const spec = { id: `job-${i}`, argv: ['sh', '-c', `echo element ${i}; exit ${i + 4}`], cwd: dir, env: { PATH }, stdoutPath: join(dir, `out-${i}`), stderrPath: join(dir, `err-${i}`) };
    await writeFile(join(scripts, `${i}.sh`), batchScript(spec, dir), { mode: 0o600 });
  }
  const element = { SLURM_JOB_ID: '43', SLURM_ARRAY_JOB_ID: '42', SLURM_ARRAY_TASK_ID: '1' };
  const result = spawnSync('sh', [], { input: arrayScript(scripts, 'array of 2 jobs'), env: element, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(await readFile(join(dir, 'out-1'), 'utf8'), 'element 1\n');
  assert.match(await readFile(join(dir, '42_1.status'), 'utf8'), /^exited 5 \d+/);
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('4')), ['42_1.status']);
});
