/**
 * The client commands as users run them: the real bin/wes.js against a real listening server
 * with the engine. Submit finds a workflow's tools in a sub-folder and its input files by
 * itself, --wait exits 0 only on COMPLETE and prints (or downloads) the outputs, logs -f
 * follows a running job, tasks and runs filter, failures groups failed tasks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sharedTestDatabase } from '../helpers/test-app.js';
import { FAILING_TOOL, LINES_WORKFLOW, WC_TOOL } from '../e2e/workflows.js';

const WES = path.resolve('bin/wes.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function wes(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WES, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** Writes a first line to stdout and stderr, waits for a gate file, then writes the rest. */
const GATED_TOOL = `cwlVersion: v1.2
class: CommandLineTool
requirements: {ShellCommandRequirement: {}}
inputs: {gate: string}
arguments: [{valueFrom: "echo tick 1; echo tock 1 >&2; while [ ! -e $(inputs.gate) ]; do sleep 0.1; done; echo tick 2; echo tock 2 >&2", shellQuote: false}]
outputs: []
`;

async function setup(t: import('node:test').TestContext, jobSandbox?: 'none') {
  const shared = await sharedTestDatabase(t);
  const app = await shared.app({ engine: true, jobSandbox });
  const url = await app.app.listen({ port: 0, host: '127.0.0.1' });
  const { auth } = await app.addUser('cli');
  const env = { WES_URL: url, WES_API_KEY: auth.replace(/^Bearer /, '') };
  const dir = fs.mkdtempSync(path.join(shared.database.dataDir, 'client-'));
  return { env, dir };
}

// The time limits are safety limits only: each step starts the CLI from its TypeScript sources,
// seconds apiece on a loaded 2-core machine.
test('submit attaches tools from a sub-folder and input files; --wait prints outputs and exits by the run state', { timeout: 300_000 }, async (t) => {
  const { env, dir } = await setup(t);
  fs.mkdirSync(path.join(dir, 'workflow/tools'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'workflow/lines.cwl'), LINES_WORKFLOW);
  fs.writeFileSync(path.join(dir, 'workflow/tools/wc.cwl'), WC_TOOL);
  fs.writeFileSync(path.join(dir, 'data/text.txt'), 'one\ntwo\nthree\n');
  fs.writeFileSync(path.join(dir, 'data/inputs.yaml'), 'text: {class: File, location: text.txt}\n');

  const submitted = await wes(['submit', path.join(dir, 'workflow/lines.cwl'), path.join(dir, 'data/inputs.yaml'), '--tag', 'suite=cli'], env);
  assert.equal(submitted.code, 0, submitted.stderr);
  const runId = submitted.stdout.trim();
  assert.match(runId, /^[0-9a-f-]{36}$/, 'prints the run id alone');

  const outdir = path.join(dir, 'out');
  const waited = await wes(['submit', path.join(dir, 'workflow/lines.cwl'), path.join(dir, 'data/inputs.yaml'), '--wait', '--outdir', outdir, '--json'], env);
  assert.equal(waited.code, 0, waited.stderr);
  const [idLine, ...rest] = waited.stdout.split('\n');
  assert.match((JSON.parse(idLine) as { run_id: string }).run_id, /^[0-9a-f-]{36}$/);
  const outputs = JSON.parse(rest.join('\n')) as Record<string, { path: string }>;
  assert.equal(fs.readFileSync(outputs.count.path, 'utf8').trim(), '3');
  assert.equal(fs.readFileSync(outputs.reversed.path, 'utf8'), 'three\ntwo\none\n');
  assert.ok(outputs.count.path.startsWith(outdir));
  // Not a terminal: plain progress lines on stderr, ending with the final state.
  assert.match(waited.stderr, /COMPLETE \d+\/\d+ done, 0 running, 0 failed/);

  fs.writeFileSync(path.join(dir, 'fail.cwl'), FAILING_TOOL);
  const failed = await wes(['submit', path.join(dir, 'fail.cwl'), '--wait', '--tag', 'suite=cli'], env);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /EXECUTOR_ERROR/);
  const failedId = failed.stdout.split('\n')[0];
  const failedTasks = await wes(['tasks', failedId, '--state', 'failed'], env);
  const lines = failedTasks.stdout.trim().split('\n').map((line) => JSON.parse(line) as { exit_code: number; state: string });
  assert.equal(lines.length, 1);
  assert.equal(lines[0].exit_code, 3);
  assert.equal((await wes(['tasks', failedId, '--state', 'running'], env)).stdout, '');
  assert.equal((await wes(['tasks', failedId, '--state', 'EXECUTOR_ERROR'], env)).stdout, failedTasks.stdout);
  const groups = (await wes(['failures', failedId], env)).stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; exit_code: number; stderr_tail: string; count: number });
  assert.deepEqual(groups.map((g) => [g.exit_code, g.stderr_tail, g.count]), [[3, 'about to fail', 1]]);
  assert.equal((await wes(['tasks', failedId, '--failure-group', groups[0].id], env)).stdout, failedTasks.stdout);
  const summary = JSON.parse((await wes(['summary', failedId], env)).stdout) as { states: Record<string, number> };
  assert.deepEqual(summary.states, { failed: 1 });
  const bad = await wes(['tasks', failedId, '--state', 'BROKEN'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /state "BROKEN"/);

  const complete = JSON.parse((await wes(['runs', '--state', 'COMPLETE', '--tag', 'suite=cli'], env)).stdout) as { runs: { run_id: string }[] };
  assert.deepEqual(complete.runs.map((r) => r.run_id), [runId]);
  const tagged = JSON.parse((await wes(['runs', '--tag', 'suite=cli'], env)).stdout) as { runs: { run_id: string }[] };
  assert.deepEqual(tagged.runs.map((r) => r.run_id), [failedId, runId]);

  const downloaded = await wes(['outputs', runId, '--outdir', path.join(dir, 'again')], env);
  assert.equal(downloaded.code, 0, downloaded.stderr);
  assert.equal(fs.readFileSync(path.join(dir, 'again/count.txt'), 'utf8').trim(), '3');
});

test('logs -f follows a running job to its end; logs of the run; errors are one line with a non-zero exit', { timeout: 300_000 }, async (t) => {
  // The job waits for a gate file the test creates on the host, which a sandboxed job cannot see.
  const { env, dir } = await setup(t, 'none');
  fs.writeFileSync(path.join(dir, 'gated.cwl'), GATED_TOOL);
  const gate = path.join(dir, 'gate');
  fs.writeFileSync(path.join(dir, 'inputs.json'), JSON.stringify({ gate }));
  const runId = (await wes(['submit', path.join(dir, 'gated.cwl'), path.join(dir, 'inputs.json')], env)).stdout.trim();
  let taskId: string | undefined;
  for (let i = 0; i < 600 && taskId === undefined; i++) {
    const page = (await (
      await fetch(`${env.WES_URL}/ga4gh/wes/v1/runs/${runId}/tasks`, { headers: { authorization: `Bearer ${env.WES_API_KEY}` } })
    ).json()) as { task_logs: { id: string; state: string }[] };
    taskId = page.task_logs.find((task) => task.state === 'running')?.id;
    if (taskId === undefined) await delay(100);
  }
  assert.ok(taskId, 'the job started');
  // Open the gate only once `logs -f` has printed the first line: the rest must come by following.
  const child = spawn(process.execPath, [WES, 'logs', runId, taskId, '-f'], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('tick 1')) fs.writeFileSync(gate, '');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'tick 1\ntick 2\n');
  assert.equal(stderr, 'tock 1\ntock 2\n');
  const engineLog = await wes(['logs', runId, '-f'], env);
  assert.match(engineLog.stdout, /run complete/);

  const badKey = await wes(['status', runId, '--key', 'wes_wrong'], env);
  assert.notEqual(badKey.code, 0);
  assert.equal(badKey.stderr.trim().split('\n').length, 1);
  assert.match(badKey.stderr, /^wes: 401: API key is not valid/);
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as net.AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const unreachable = await wes(['runs', '--url', `http://127.0.0.1:${port}`], env);
  assert.notEqual(unreachable.code, 0);
  assert.equal(unreachable.stderr, `wes: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  const missing = await wes(['submit', path.join(dir, 'nope.cwl')], env);
  assert.match(missing.stderr, /^wes: cannot read .*nope\.cwl: ENOENT\n$/);
});
