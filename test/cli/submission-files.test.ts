/** What `wes submit` finds to attach, from real files on disk (no server). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectSubmission } from '../../src/cli/client/submission-files.js';

function write(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
}

test('run:, $import, $include, SchemaDefRequirement, $schemas, defaults, inputs with secondaryFiles and directories', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-submit-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  write(root, {
    'wf/main.cwl': `cwlVersion: v1.1
class: Workflow
$schemas: [schema/edam.owl]
requirements:
  SchemaDefRequirement:
    types:
      - $import: types/record.yml
inputs:
  reads: File
  ref: {type: File, default: {class: File, location: ../data/default.txt}}
outputs: []
steps:
  count:
    run: tools/count.cwl
    in: {f: reads}
    out: []
  other:
    run: "tools/other.cwl#main"
    in: {}
    out: []
  remote:
    run: https://example.org/tool.cwl
    in: {}
    out: []
`,
    'wf/types/record.yml': `name: rec\ntype: record\nfields:\n  a: {$import: more.yml}\n`,
    'wf/types/more.yml': `type: string\n`,
    'wf/tools/count.cwl': `cwlVersion: v1.1\nclass: CommandLineTool\ndoc: {$include: ../docs/count.md}\nbaseCommand: wc\ninputs: {f: File}\noutputs: []\n`,
    'wf/tools/other.cwl': `{"cwlVersion": "v1.1", "$graph": [{"id": "main", "class": "CommandLineTool", "inputs": [], "outputs": [], "baseCommand": "true"}]}`,
    'wf/docs/count.md': 'counts\n',
    'wf/schema/edam.owl': '<rdf/>',
    'data/default.txt': 'x\n',
    'data/reads.fq': '@r\n',
    'data/reads.fq.fai': 'idx\n',
    'data/refdir/a.txt': 'a',
    'data/refdir/sub/b.txt': 'b',
    'jobs/job.yaml': `reads:\n  class: File\n  path: ../data/reads.fq\n  secondaryFiles:\n    - {class: File, location: ../data/reads.fq.fai}\ndir: {class: Directory, location: ../data/refdir}\nremote: {class: File, location: "https://example.org/x.txt"}\nn: 3\n`,
  });
  const submission = await collectSubmission(path.join(root, 'wf/main.cwl'), path.join(root, 'jobs/job.yaml'));
  assert.equal(submission.root, root);
  assert.equal(submission.workflowUrl, 'wf/main.cwl');
  assert.equal(submission.cwlVersion, 'v1.1');
  assert.deepEqual(
    submission.files.map((f) => path.relative(root, f)),
    [
      'data/default.txt',
      'data/reads.fq',
      'data/reads.fq.fai',
      'data/refdir/a.txt',
      'data/refdir/sub/b.txt',
      'wf/docs/count.md',
      'wf/main.cwl',
      'wf/schema/edam.owl',
      'wf/tools/count.cwl',
      'wf/tools/other.cwl',
      'wf/types/more.yml',
      'wf/types/record.yml',
    ],
  );
  assert.deepEqual(submission.params, {
    reads: { class: 'File', location: 'data/reads.fq', secondaryFiles: [{ class: 'File', location: 'data/reads.fq.fai' }] },
    dir: { class: 'Directory', location: 'data/refdir' },
    remote: { class: 'File', location: 'https://example.org/x.txt' },
    n: 3,
  });
});

test('a missing referenced file or input is one clear error', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-submit-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  write(root, { 'wf.cwl': 'class: Workflow\nsteps: {a: {run: missing.cwl}}\n', 'job.json': '{"f": {"class": "File", "path": "nope.txt"}}' });
  await assert.rejects(collectSubmission(path.join(root, 'wf.cwl')), /cannot read .*missing\.cwl: ENOENT/);
  write(root, { 'wf.cwl': 'class: Workflow\n' });
  await assert.rejects(collectSubmission(path.join(root, 'wf.cwl'), path.join(root, 'job.json')), /input nope\.txt .* does not exist/);
});
