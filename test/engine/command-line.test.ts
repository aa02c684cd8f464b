import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildCommandLine } from '../../src/engine/job/command-line.js';
import type { CwlObject } from '../../src/engine/values/cwl-value.js';
import { loadProcess, prepareInputs } from '../../src/engine/index.js';
import { evaluatorFor, expressionOptions } from '../../src/engine/job/job-context.js';
import { rootScope, scopeFor } from '../../src/engine/cwl/requirements.js';
import { InvalidWorkflowError } from '../../src/errors.js';

async function commandLine(document: string, params: CwlObject, shell = false): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'engine-cl-'));
  await writeFile(join(dir, 'tool.cwl'), document);
  const tool = await loadProcess({ documentUrl: 'tool.cwl', baseDir: dir });
  assert.equal(tool.class, 'CommandLineTool');
  if (tool.class !== 'CommandLineTool') throw new Error('unreachable');
  const inputs = prepareInputs(tool, params, dir);
  const evaluate = evaluatorFor(inputs, { outdir: '/out', tmpdir: '/tmp', cores: 1 }, expressionOptions(scopeFor(tool, undefined, rootScope([])), dir, new AbortController().signal));
  return buildCommandLine(tool, inputs, evaluate, shell);
}

const header = 'cwlVersion: v1.2\nclass: CommandLineTool\noutputs: []\n';

describe('command line building', () => {
  it('orders bindings by position, then arguments before inputs, then input name', async () => {
    const argv = await commandLine(
      `${header}baseCommand: [tool, sub]
arguments: [{position: 2, valueFrom: last}, first]
inputs:
  b: {type: int, inputBinding: {position: 1, prefix: -b}}
  a: {type: string, inputBinding: {position: 1, prefix: --a=, separate: false}}
  flag: {type: boolean, inputBinding: {prefix: -f}}
  off: {type: boolean, inputBinding: {prefix: -o}}
  missing: {type: 'string?', inputBinding: {prefix: -m}}
`,
      { b: 3, a: 'x', flag: true, off: false },
    );
    assert.deepEqual(argv, ['tool', 'sub', 'first', '-f', '--a=x', '-b', '3', 'last']);
  });

  it('renders arrays with itemSeparator, per-item bindings and nested prefixes', async () => {
    const argv = await commandLine(
      `${header}baseCommand: cmd
inputs:
  joined: {type: 'int[]', inputBinding: {position: 1, prefix: -j, itemSeparator: ','}}
  each:
    type: {type: array, items: string, inputBinding: {prefix: -e}}
    inputBinding: {position: 2}
  plain: {type: 'string[]', inputBinding: {position: 3, prefix: -p}}
  empty: {type: 'string[]', inputBinding: {position: 4, prefix: -z}}
`,
      { joined: [1, 2, 3], each: ['x', 'y'], plain: ['u', 'v'], empty: [] },
    );
    assert.deepEqual(argv, ['cmd', '-j', '1,2,3', '-e', 'x', '-e', 'y', '-p', 'u', 'v']);
  });

  it('binds record fields and evaluates valueFrom with self', async () => {
    const argv = await commandLine(
      `${header}baseCommand: cmd
inputs:
  rec:
    type:
      type: record
      fields:
        second: {type: int, inputBinding: {position: 2, prefix: --second}}
        first: {type: string, inputBinding: {position: 1}}
    inputBinding: {position: 1}
  n: {type: int, inputBinding: {position: 2, valueFrom: 'n=$(self)'}}
`,
      { rec: { first: 'one', second: 2 }, n: 5 },
    );
    assert.deepEqual(argv, ['cmd', 'one', '--second', '2', 'n=5']);
  });

  it('passes File inputs as their paths', async () => {
    const argv = await commandLine(`${header}baseCommand: cat\ninputs:\n  f: {type: File, inputBinding: {}}\n`, {
      f: { class: 'File', path: '/abs/in put.txt' },
    });
    assert.deepEqual(argv, ['cat', '/abs/in put.txt']);
  });

  it('joins into one sh -c string with ShellCommandRequirement, quoting unless shellQuote is false', async () => {
    const argv = await commandLine(
      `${header}requirements: {ShellCommandRequirement: {}}
baseCommand: echo
arguments: [{valueFrom: '|', shellQuote: false, position: 2}, {valueFrom: 'wc -c', shellQuote: false, position: 3}]
inputs:
  text: {type: string, inputBinding: {position: 1}}
`,
      { text: "it's $HOME" },
      true,
    );
    assert.deepEqual(argv, ['/bin/sh', '-c', `echo 'it'\\''s $HOME' | wc -c`]);
  });

  it('rejects an input object whose values do not match the declared types, naming each', async () => {
    await assert.rejects(
      commandLine(`${header}baseCommand: x\ninputs:\n  n: int\n  s: string\n`, { n: 'three' }),
      (error: unknown) => error instanceof InvalidWorkflowError && error.problems.length === 2 && error.problems[0].includes('inputs.n'),
    );
  });
});

describe('loading', () => {
  it('reports an invalid document as InvalidWorkflowError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engine-load-'));
    await writeFile(join(dir, 'bad.cwl'), 'cwlVersion: v1.2\nclass: CommandLineTool\ninputs: {x: {type: 42}}\noutputs: []\n');
    await assert.rejects(loadProcess({ documentUrl: 'bad.cwl', baseDir: dir }), InvalidWorkflowError);
  });

  it('names an unnamed stdout/stderr the same at every load, so a job reattached after a restart is found', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engine-load-'));
    await writeFile(join(dir, 'a.cwl'), 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: {out: stdout, err: stderr}\n');
    await writeFile(join(dir, 'b.cwl'), 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: {out: stdout, err: stderr}\n');
    const streams = async (name: string): Promise<unknown[]> => {
      const tool = await loadProcess({ documentUrl: name, baseDir: dir });
      if (tool.class !== 'CommandLineTool') throw new Error('not a CommandLineTool');
      return [tool.stdout, tool.stderr];
    };
    const [first, again, other] = [await streams('a.cwl'), await streams('a.cwl'), await streams('b.cwl')];
    assert.deepEqual(again, first);
    assert.notDeepEqual(first[0], first[1]);
    assert.notDeepEqual(other, first);
  });

  it('refuses documents outside the base directory unless the policy allows them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engine-load-'));
    const other = await mkdtemp(join(tmpdir(), 'engine-other-'));
    await writeFile(join(other, 'tool.cwl'), `${header}baseCommand: x\ninputs: []\n`);
    await writeFile(join(dir, 'wf.cwl'), `cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps:\n  s: {run: ${join(other, 'tool.cwl')}, in: [], out: []}\n`);
    await assert.rejects(loadProcess({ documentUrl: 'wf.cwl', baseDir: dir }), /not allowed/);
    const loaded = await loadProcess({ documentUrl: 'wf.cwl', baseDir: dir, allowUrl: (u) => u.pathname.startsWith(other) });
    assert.equal(loaded.class, 'Workflow');
    await assert.rejects(loadProcess({ documentUrl: 'https://example.invalid/x.cwl', baseDir: dir }), /not allowed/);
  });

  it('picks #main from a packed $graph document and resolves runs inside it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engine-load-'));
    await writeFile(
      join(dir, 'packed.cwl'),
      `cwlVersion: v1.2
$graph:
  - id: echo
    class: CommandLineTool
    baseCommand: echo
    inputs: {msg: {type: string, inputBinding: {}}}
    outputs: []
  - id: main
    class: Workflow
    inputs: {m: string}
    outputs: []
    steps:
      say: {run: '#echo', in: {msg: m}, out: []}
`,
    );
    const loaded = await loadProcess({ documentUrl: 'packed.cwl', baseDir: dir });
    assert.equal(loaded.class, 'Workflow');
    if (loaded.class !== 'Workflow') return;
    assert.deepEqual(loaded.steps.map((s) => [s.id, s.run.class, s.in[0].source]), [['say', 'CommandLineTool', ['m']]]);
  });
});
