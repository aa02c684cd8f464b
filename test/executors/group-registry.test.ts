/**
 * The job process groups a server left running are stopped by the next server of its host
 * (LocalExecutor.reapOrphans), but only once the server that recorded them is gone or, when the
 * caller says which servers hold a lease, holds none: servers sharing a data directory never
 * stop each other's jobs. Real processes; the "servers" are child processes of the test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { GroupRegistry } from '../../src/executors/local/group-registry.js';
import { groupAlive } from '../../src/executors/local/process-group.js';
import { bootIdOf, currentProcess, processKey, type ProcessIdentity } from '../../src/executors/local/process-identity.js';

/** A process of the test that plays a server; its identity as the registry would record it. */
function identityOf(child: ChildProcess): ProcessIdentity {
  const pid = child.pid ?? 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { ...currentProcess(), pid, start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] };
}

async function setUp(t: TestContext) {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'group-registry-'));
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) {
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        // Already stopped by the test.
      }
    }
    await rm(stateDir, { recursive: true, force: true });
  });
  /** A detached `sleep`: the leader of its own group, like a job. */
  const start = (): ChildProcess => {
    const child = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    children.push(child);
    return child;
  };
  /**
   * Records `job`'s group as one of `server`'s, where that server's registry keeps it: a line
   * of its journal, or (`asFile`) a file of its own, as servers before the journal did.
   */
  const record = async (server: ProcessIdentity, job: ChildProcess, asFile = false): Promise<number> => {
    const dir = path.join(stateDir, 'groups', ...processKey(server).split('/'));
    await mkdir(dir, { recursive: true });
    if (asFile) await writeFile(path.join(dir, String(job.pid)), '');
    else await appendFile(path.join(dir, 'journal'), `+${job.pid}\n`);
    return job.pid ?? 0;
  };
  return { stateDir, start, record };
}

test('groups of a server process that is gone are stopped, those of a live one only once it holds no lease', async (t) => {
  const { stateDir, start, record } = await setUp(t);
  const exited = spawn('sleep', ['0.1'], { stdio: 'ignore' });
  const gone = identityOf(exited);
  await new Promise((resolve) => exited.once('exit', resolve));
  const live = identityOf(start());
  const orphan = await record(gone, start());
  const orphanAsFile = await record(gone, start(), true);
  const sibling = await record(live, start());
  const executor = new LocalExecutor({ maxJobs: 1, stateDir, killGraceMs: 200 });

  assert.equal(await executor.reapOrphans(), 2);
  assert.equal(await groupAlive(orphan), false, 'the gone server\'s job runs on');
  assert.equal(await groupAlive(orphanAsFile), false, 'the job a server recorded as a file runs on');
  assert.equal(await groupAlive(sibling), true, 'a live server\'s job was stopped');
  assert.equal(await executor.reapOrphans(async () => new Set([processKey(live)])), 0);
  assert.equal(await groupAlive(sibling), true, 'the job of a server holding its lease was stopped');

  assert.equal(await executor.reapOrphans(async () => new Set()), 1);
  assert.equal(await groupAlive(sibling), false, 'the job of a server without a lease runs on');
  assert.deepEqual(await readdir(path.join(stateDir, 'groups', gone.host, gone.boot)), [], 'records of reaped servers are left');
});

test('a group recorded in another boot is forgotten, in another PID namespace left alone, neither signalled', async (t) => {
  const { stateDir, start, record } = await setUp(t);
  const self = currentProcess();
  const earlierBoot = await record({ ...self, boot: 'some-other-boot.1', pid: 1, start: '1' }, start());
  const container = { ...self, boot: `${bootIdOf(self.boot)}.1`, pid: 1, start: '1' };
  const inContainer = await record(container, start());
  assert.equal(await new LocalExecutor({ maxJobs: 1, stateDir }).reapOrphans(async () => new Set()), 0);
  assert.equal(await groupAlive(earlierBoot), true, 'a group from another boot was killed');
  assert.equal(await groupAlive(inContainer), true, 'a group of another PID namespace was killed');
  assert.deepEqual(await readdir(path.join(stateDir, 'groups', self.host)), [container.boot]);
});

test('records of servers before per-process records are reaped in this boot and forgotten from another', async (t) => {
  const { stateDir, start } = await setUp(t);
  const thisBoot = start().pid ?? 0;
  const otherBoot = start().pid ?? 0;
  await mkdir(stateDir, { recursive: true });
  await writeFile(path.join(stateDir, String(thisBoot)), bootIdOf(currentProcess().boot));
  await writeFile(path.join(stateDir, String(otherBoot)), 'some-other-boot');
  assert.equal(await new LocalExecutor({ maxJobs: 1, stateDir, killGraceMs: 200 }).reapOrphans(), 2);
  assert.equal(await groupAlive(thisBoot), false);
  assert.equal(await groupAlive(otherBoot), true);
  assert.deepEqual(await readdir(stateDir), []);
});

test('a server\'s own groups are recorded under its process key and never reaped by itself', async (t) => {
  const { stateDir } = await setUp(t);
  const executor = new LocalExecutor({ maxJobs: 1, stateDir, killGraceMs: 200 });
  const dir = await mkdtemp(path.join(tmpdir(), 'group-registry-job-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const started = new Promise<void>((resolve) => {
    executor.submit({ id: 'j', argv: ['sleep', '1000'], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdoutPath: path.join(dir, 'o'), stderrPath: path.join(dir, 'e') }, new AbortController().signal, () => resolve());
  });
  await started;
  const journal = path.join(stateDir, 'groups', ...processKey(currentProcess()).split('/'), 'journal');
  const recorded = async (): Promise<string> => readFile(journal, 'utf8').catch(() => '');
  for (let i = 0; i < 100 && (await recorded()) === ''; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const pgid = Number(/^\+(\d+)$/m.exec(await recorded())?.[1]);
  assert.ok(pgid > 0, `no group in the journal: ${JSON.stringify(await recorded())}`);
  assert.equal(await executor.reapOrphans(async () => new Set()), 0);
  assert.equal(await groupAlive(pgid), true);
  await executor.shutdown();
  assert.equal(await groupAlive(pgid), false);
  assert.equal(await recorded(), `+${pgid}\n-${pgid}\n`, 'the stopped group is still recorded');
});

test('a long-lived server\'s journal is compacted to the groups still running', async (t) => {
  const { stateDir } = await setUp(t);
  const registry = new GroupRegistry(stateDir);
  const journal = path.join(stateDir, 'groups', ...processKey(currentProcess()).split('/'), 'journal');
  registry.add(7);
  registry.add(8);
  for (let pgid = 100; pgid < 25_100; pgid++) {
    registry.add(pgid);
    registry.remove(pgid);
    // Writes in many batches, so compactions happen with lines still queued.
    if (pgid % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  registry.remove(7);
  await registry.close();
  const lines = (await readFile(journal, 'utf8')).split('\n').filter((line) => line !== '');
  assert.ok(lines.length < 10_000, `the journal holds ${lines.length} lines`);
  const running = new Set<number>();
  for (const line of lines) {
    if (line.startsWith('+')) running.add(Number(line.slice(1)));
    else running.delete(Number(line.slice(1)));
  }
  assert.deepEqual([...running], [8]);
});
