/**
 * The compiled server (`npm run build`, what `npm start` runs): built into a temporary
 * directory and run with plain node, no tsx anywhere, it runs a workflow whose steps need the
 * two modules it loads by URL, the job launcher process and the expression worker thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase } from '../helpers/dialects.js';
import { startServer, type Server } from '../helpers/wes-process.js';

const EXPRESSION_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {InlineJavascriptRequirement: {}, StepInputExpressionRequirement: {}}
inputs:
  word: string
outputs:
  out: {type: File, outputSource: shout/out}
steps:
  shout:
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        text: {type: string, inputBinding: {position: 1}}
      outputs:
        out: stdout
    in:
      word: word
      text: {valueFrom: '$(inputs.word.toUpperCase() + "!")'}
    out: [out]
`;

test('the compiled server runs jobs and JavaScript expressions without tsx', async (t) => {
  // Inside the checkout, so that the compiled modules resolve the packages in node_modules.
  fs.mkdirSync('.tmp', { recursive: true });
  const outDir = fs.mkdtempSync(path.resolve('.tmp', 'dist-'));
  const database = await createTestDatabase();
  let server: Server | undefined;
  t.after(async () => {
    server?.process.kill('SIGKILL');
    await database.drop();
    fs.rmSync(outDir, { recursive: true, force: true });
  });
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--out-dir', outDir], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  // NODE_OPTIONS could carry the test runner's `--import tsx` into the server.
  server = await startServer(database, { NODE_OPTIONS: '' }, path.join(outDir, 'main.js'));

  const form = new FormData();
  form.append('workflow_type', 'CWL');
  form.append('workflow_type_version', 'v1.2');
  form.append('workflow_url', 'shout.cwl');
  form.append('workflow_params', JSON.stringify({ word: 'built' }));
  form.append('workflow_attachment', new Blob([EXPRESSION_WORKFLOW]), 'shout.cwl');
  const submitted = await fetch(`${server.url}/ga4gh/wes/v1/runs`, { method: 'POST', body: form });
  assert.equal(submitted.status, 200, await submitted.clone().text());
  const { run_id: runId } = (await submitted.json()) as { run_id: string };

  let log: { state: string; outputs: { out?: { location: string } } } | undefined;
  for (let i = 0; i < 600; i++) {
    log = (await (await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}`)).json()) as typeof log;
    if (log !== undefined && !['QUEUED', 'INITIALIZING', 'RUNNING'].includes(log.state)) break;
    await delay(100);
  }
  assert.equal(log?.state, 'COMPLETE', JSON.stringify(log));
  const location = log.outputs.out?.location ?? '';
  const content = await (await fetch(location.startsWith('http') ? location : `${server.url}${location}`)).text();
  assert.equal(content, 'BUILT!\n');
  // The launcher process is still up: neither it nor the server started tsx's esbuild service.
  const tree = [server.process.pid ?? 0, ...descendants(server.process.pid ?? 0)];
  assert.ok(tree.length >= 2, 'the launcher process is a child of the server');
  for (const pid of tree) assert.doesNotMatch(commandLine(pid), /esbuild|tsx/, `process ${pid}`);
});

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Every live process below `pid`, from the parent pids in /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const below = (p: number): number[] => (children.get(p) ?? []).flatMap((c) => [c, ...below(c)]);
  return below(pid);
}
