/**
 * Issue 6, "Server-side file access": what the engine itself reads, lists, copies, links or
 * writes on a user's behalf stays inside that user's run (no job process needed for most of
 * these). Each test sends the hostile request as it was found, then asserts the safe outcome:
 * nothing written outside the run, no host content in RunLog.outputs or downloadable, the run
 * ends EXECUTOR_ERROR with a message naming the problem and never the server's paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse } from '../helpers/spec.js';
import { multipartBody, type FormFile } from '../helpers/multipart.js';
import { getJson, waitForState } from '../e2e/helpers.js';

interface RunLog {
  state: string;
  outputs: Record<string, unknown>;
  run_log: { system_logs?: string[] };
}

/** A file outside every run that a hostile run tries to read, overwrite or link to. */
function hostSecret(app: TestApp): { path: string; content: string } {
  const content = `secret-${randomUUID()}\n`;
  const file = path.join(app.database.dataDir, `secret-${randomUUID()}.txt`);
  fs.writeFileSync(file, content);
  return { path: file, content };
}

function sha1(text: string | Buffer): string {
  return createHash('sha1').update(text).digest('hex');
}

/** Submits; the submission check may refuse the request outright (also safe), else runs it. */
async function submit(app: TestApp, auth: string, params: Record<string, unknown>, files: readonly FormFile[]): Promise<string | undefined> {
  const { payload, headers } = await multipartBody(
    { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'main.cwl', workflow_params: JSON.stringify(params) },
    files,
  );
  const response = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  if (response.statusCode === 400) {
    assertErrorResponse(response, 400);
    assert.ok(!response.body.includes(app.database.dataDir), response.body);
    return undefined;
  }
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { run_id: string }).run_id;
}

/** The run ends EXECUTOR_ERROR with a message matching `problem` and free of server paths. */
async function expectRefused(app: TestApp, auth: string, runId: string, problem: RegExp, secrets: readonly string[] = []): Promise<RunLog> {
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  const message = (log.run_log.system_logs ?? []).join('\n');
  assert.match(message, problem);
  // The request (and a task's cmd) echo what the user sent; what the server adds must not show its paths.
  const tasks = await getJson<{ task_logs: { system_logs?: string[] }[] }>(app, auth, `/runs/${runId}/tasks`);
  const added = JSON.stringify([log.outputs, log.run_log.system_logs, tasks.task_logs.map((task) => task.system_logs)]);
  assert.ok(!added.includes(app.database.dataDir), `server path shown: ${added}`);
  for (const secret of secrets) assert.ok(!JSON.stringify(log).includes(secret), `host content in the RunLog: ${JSON.stringify(log)}`);
  return log;
}

const CAT_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs: {f: {type: File, inputBinding: {}}}
stdout: out.txt
outputs: {out: {type: stdout}}
`;

test('a File literal whose basename climbs out of the staging area is refused, nothing written', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const name = `pwned-${randomUUID()}`;
  // stage/0 → stage → job → jobs → work → run → runs → data dir.
  const runId = await submit(app, auth, { f: { class: 'File', basename: `${'../'.repeat(7)}${name}`, contents: 'pwned' } }, [
    { name: 'main.cwl', content: CAT_TOOL },
  ]);
  assert.ok(runId !== undefined);
  await expectRefused(app, auth, runId, /basename/);
  assert.equal(fs.existsSync(path.join(app.database.dataDir, name)), false);
  assert.deepEqual(fs.readdirSync(app.database.dataDir).filter((n) => n.startsWith('pwned')), []);
});

test('an ExpressionTool output basename with ../ is refused, nothing written outside the run', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const name = `pwned-${randomUUID()}`;
  const tool = `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {}
outputs: {out: File}
expression: '\${ return {out: {class: "File", basename: "${'../'.repeat(6)}${name}", contents: "pwned"}}; }'
`;
  const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
  assert.ok(runId !== undefined);
  await expectRefused(app, auth, runId, /basename/);
  assert.equal(fs.existsSync(path.join(app.database.dataDir, name)), false);
});

test('cwl.output.json cannot rename a file next to a host file, nor publish a host file', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  const planted = path.join(path.dirname(secret.path), `planted-${randomUUID()}.txt`);
  const cases = [
    // A rename of a host file: today copied to the host file's directory under the new name.
    { class: 'File', location: `file://${secret.path}`, basename: path.basename(planted) },
    // A rename that is a path.
    { class: 'File', location: 'mine.txt', basename: `../../../../../../${path.basename(planted)}` },
  ];
  for (const value of cases) {
    const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
arguments: ['echo mine > mine.txt; printf %s "$0" > cwl.output.json', '${JSON.stringify({ out: value })}']
inputs: {}
outputs: {out: File}
`;
    const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
    assert.ok(runId !== undefined);
    await expectRefused(app, auth, runId, /out/, [secret.content.trim(), sha1(secret.content)]);
    assert.equal(fs.existsSync(planted), false, `${JSON.stringify(value)} planted a file outside the run`);
    assert.equal(fs.readFileSync(secret.path, 'utf8'), secret.content);
  }
});

test('outputEval returning /etc/hostname (or any host file) is refused and not downloadable', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  for (const target of ['/etc/hostname', secret.path]) {
    const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements: {InlineJavascriptRequirement: {}}
baseCommand: 'true'
inputs: {}
outputs:
  out:
    type: File
    outputBinding: {outputEval: '$({"class": "File", "path": "${target}", "basename": "copied.txt"})'}
`;
    const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
    assert.ok(runId !== undefined);
    const content = fs.readFileSync(target);
    await expectRefused(app, auth, runId, /out/, [sha1(content), ...(target === secret.path ? [secret.content.trim()] : [])]);
    const copy = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/outputs/work/jobs/0-main.cwl/out/copied.txt`, headers: { authorization: auth } });
    assert.equal(copy.statusCode, 404);
    assert.equal(fs.existsSync(path.join(path.dirname(target), 'copied.txt')), false);
  }
});

test('loadContents and loadListing cannot read host files, another run or the runs directory', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];

  // A File input given as file:///etc/passwd (the submission check may refuse it: also safe).
  const loadTool = `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {f: {type: File, loadContents: true}}
outputs: {text: string}
expression: '$({text: inputs.f.contents})'
`;
  for (const location of ['file:///etc/passwd', `file://${secret.path}`]) {
    const runId = await submit(app, auth, { f: { class: 'File', location } }, [{ name: 'main.cwl', content: loadTool }]);
    if (runId !== undefined) await expectRefused(app, auth, runId, /outside/, [passwd, secret.content.trim()]);
  }

  // The same File produced by an ExpressionTool, so that it reaches the engine whatever the submission check does.
  const viaStep = (producer: string, consumer: string) => `cwlVersion: v1.2
class: Workflow
requirements: {InlineJavascriptRequirement: {}}
inputs: {}
outputs: {result: {type: Any, outputSource: consume/result}}
steps:
  produce:
    run:
      class: ExpressionTool
      inputs: {}
      outputs: {value: Any}
      expression: '${producer}'
    in: {}
    out: [value]
  consume:
    run:
      class: ExpressionTool
      inputs: {value: {type: Any}}
      outputs: {result: Any}
      expression: '${consumer}'
    in: {value: produce/value}
    out: [result]
`;
  const fileRun = await submit(app, auth, {}, [
    {
      name: 'main.cwl',
      content: viaStep(`$({value: {class: "File", location: "file://${secret.path}"}})`, '$({result: inputs.value})'),
    },
  ]);
  assert.ok(fileRun !== undefined);
  await expectRefused(app, auth, fileRun, /outside/, [secret.content.trim(), sha1(secret.content)]);

  // A Directory at the runs directory, listed deep: every user's run ids and files.
  const other = await submit(app, auth, { f: { class: 'File', basename: 'x.txt', contents: 'other run' } }, [
    { name: 'main.cwl', content: CAT_TOOL },
  ]);
  assert.ok(other !== undefined);
  assert.equal(await waitForState(app, auth, other), 'COMPLETE');
  const listing = await submit(app, auth, {}, [
    {
      name: 'main.cwl',
      content: `cwlVersion: v1.2
class: Workflow
requirements: {InlineJavascriptRequirement: {}}
inputs: {}
outputs: {names: {type: Any, outputSource: list/names}}
steps:
  produce:
    run:
      class: ExpressionTool
      inputs: {}
      outputs: {dir: Directory}
      expression: '$({dir: {class: "Directory", location: "file://" + runtime.outdir + "/../../../../.."}})'
    in: {}
    out: [dir]
  list:
    run:
      class: ExpressionTool
      inputs: {dir: {type: Directory, loadListing: deep_listing}}
      outputs: {names: Any}
      expression: '$({names: inputs.dir.listing.map(function (e) { return [e.basename, e.size, e.checksum]; })})'
    in: {dir: produce/dir}
    out: [names]
`,
    },
  ]);
  assert.ok(listing !== undefined);
  await expectRefused(app, auth, listing, /outside/, [other]);
});

test('secondaryFiles cannot point outside the run', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements: {InlineJavascriptRequirement: {}}
baseCommand: [touch, out.txt]
inputs: {}
outputs:
  out:
    type: File
    secondaryFiles: ['$("${'../'.repeat(6)}${path.basename(secret.path)}")']
    outputBinding: {glob: out.txt}
`;
  const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
  assert.ok(runId !== undefined);
  await expectRefused(app, auth, runId, /outside/, [sha1(secret.content), secret.content.trim()]);
});

test('stdout: naming an absolute path or one with .. is refused, the target untouched', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  const escaped = `escaped-${randomUUID()}`;
  for (const name of [secret.path, `${'../'.repeat(6)}${escaped}`, '../x']) {
    const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo, overwritten]
inputs: {}
stdout: ${name}
outputs: {out: {type: stdout}}
`;
    const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
    assert.ok(runId !== undefined);
    await waitForState(app, auth, runId);
    assert.equal(fs.readFileSync(secret.path, 'utf8'), secret.content, `stdout: ${name} overwrote a host file`);
    assert.equal(fs.existsSync(path.join(app.database.dataDir, escaped)), false);
    await expectRefused(app, auth, runId, /stdout/, [secret.content.trim()]);
  }
});

test('a job that swaps its logs and the engine log for links to server files gets nothing served or written', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  // Unconfined job (the sandbox is another layer): it finds its own log files through /proc.
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements: {InlineJavascriptRequirement: {}}
baseCommand: [sh, -c]
arguments:
  - |
    echo out; echo err >&2
    for fd in 1 2; do f=\`readlink /proc/$$/fd/$fd\`; rm -f "$f"; ln -s "$0" "$f"; done
    rm -f "$1/engine.log"; ln -s "$0" "$1/engine.log"
  - ${secret.path}
  - $(runtime.outdir)/../../../..
inputs: {}
stdout: captured.txt
outputs: {out: {type: stdout}}
`;
  const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
  assert.ok(runId !== undefined);
  const state = await waitForState(app, auth, runId);
  assert.equal(state, 'EXECUTOR_ERROR');
  assert.equal(fs.readFileSync(secret.path, 'utf8'), secret.content, 'the runner appended to the link target');
  const urls = [`/runs/${runId}/log`, `/runs/${runId}/tasks/0/stdout`, `/runs/${runId}/tasks/0/stderr`];
  for (const url of urls) {
    const response = await app.app.inject({ url: `/ga4gh/wes/v1${url}`, headers: { authorization: auth } });
    assert.ok(!response.body.includes(secret.content.trim()), `${url} served a server file`);
    assert.ok(response.statusCode === 200 || response.statusCode === 404, `${url}: ${response.statusCode} ${response.body}`);
  }
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  assert.ok(!JSON.stringify(log).includes(secret.content.trim()));
  assert.ok(!JSON.stringify(log.run_log).includes(app.database.dataDir), JSON.stringify(log.run_log));
});

test('a bad workflow\'s 400 and a failed run\'s system_logs name attachments, not server paths', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const { payload, headers } = await multipartBody(
    { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'sub/broken.cwl', workflow_params: '{}' },
    [{ name: 'sub/broken.cwl', content: 'cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n' }],
  );
  const response = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  assertErrorResponse(response, 400, /sub\/broken\.cwl/);
  assert.ok(!response.body.includes(app.database.dataDir), response.body);
  assert.ok(!response.body.includes('.incoming'), response.body);
  assert.ok(!response.body.includes('file://'), response.body);

  // A job failing on a file the engine names: the message says where in the run, not where the run lives.
  const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'echo "{\\"out\\": {\\"class\\": \\"File\\", \\"location\\": \\"gone.txt\\"}}" > cwl.output.json']
inputs: {}
outputs: {out: File}
`;
  const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
  assert.ok(runId !== undefined);
  const log = await expectRefused(app, auth, runId, /out/);
  assert.ok(!JSON.stringify(log).includes('file://'), JSON.stringify(log));
  const engineLog = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/log`, headers: { authorization: auth } });
  assert.ok(!engineLog.body.includes(app.database.dataDir), engineLog.body);
});

test('an output that is a link to another run\'s output is refused and not served', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const theirs = await submit(app, alice.auth, { f: { class: 'File', basename: 'x.txt', contents: `alice-${randomUUID()}` } }, [
    { name: 'main.cwl', content: CAT_TOOL },
  ]);
  assert.ok(theirs !== undefined);
  assert.equal(await waitForState(app, alice.auth, theirs), 'COMPLETE');
  const target = path.join(app.database.dataDir, 'runs', theirs, 'work', 'jobs', '1-main.cwl', 'out', 'out.txt');
  const content = fs.readFileSync(target, 'utf8');
  const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [ln, -s, ${target}, link.txt]
inputs: {}
outputs: {out: {type: File, outputBinding: {glob: link.txt, loadContents: true}}}
`;
  const runId = await submit(app, bob.auth, {}, [{ name: 'main.cwl', content: tool }]);
  assert.ok(runId !== undefined);
  await expectRefused(app, bob.auth, runId, /output out.*points outside the run/, [content, sha1(content)]);
  const served = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/outputs/work/jobs/0-main.cwl/out/link.txt`, headers: { authorization: bob.auth } });
  assert.equal(served.statusCode, 404);
});

test('a glob that leaves the output directory fails the job instead of listing or reading there', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const secret = hostSecret(app);
  for (const pattern of [secret.path, `${'../'.repeat(6)}secret-*`]) {
    const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: 'true'
inputs: {}
outputs: {out: {type: 'File[]', outputBinding: {glob: '${pattern}', loadContents: true}}}
`;
    const runId = await submit(app, auth, {}, [{ name: 'main.cwl', content: tool }]);
    assert.ok(runId !== undefined);
    await expectRefused(app, auth, runId, /glob .* leaves the output directory/, [secret.content.trim()]);
  }
});
