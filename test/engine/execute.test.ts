import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeTopLevelSteps,
  executeProcess,
  materializeOutputs,
  loadProcess,
  prepareInputs,
  type CwlObject,
  type EngineHost,
  type StepPath,
} from '../../src/engine/index.js';
import { CancelledError, CommandFailedError, InvalidWorkflowError } from '../../src/errors.js';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { RunLimitedExecutor } from '../../src/executors/run-limited-executor.js';
import type { Executor } from '../../src/executors/executor.js';
import { PathPolicy } from '../../src/engine/values/path-policy.js';
import type { OnError } from '../../src/engine-parameters.js';

// A core budget of 4 so that three one-core jobs really run at once on any machine.
const executor = new LocalExecutor({ maxJobs: 4, cores: 4 });
after(() => executor.shutdown());

type Event = [string, string, number | undefined, ...unknown[]];

/** A host that records every call, and can claim some jobs already finished (resume). */
function recordingHost(completed = new Map<string, CwlObject>()): EngineHost & { events: Event[] } {
  const events: Event[] = [];
  const key = (path: StepPath): string => path.map((c) => (c.element === undefined ? `${c.order}` : `${c.order}.${c.element}`)).join('/');
  return {
    events,
    stepStarted: async (step) => void events.push(['stepStarted', key(step.path), undefined, step.kind, step.label, step.scattered]),
    scatterSized: async (path, n) => void events.push(['scatterSized', key(path), undefined, n]),
    elementsNotRun: async (path, from, to) => void events.push(['elementsNotRun', key(path), undefined, from, to]),
    jobCreated: async (path, element, job) => void events.push(['jobCreated', key(path), element, job.argv]),
    jobStarted: async (path, element) => void events.push(['jobStarted', key(path), element]),
    jobEnded: async (path, element, end) => void events.push(['jobEnded', key(path), element, end.state]),
    findCompletedJob: async (path, element) => completed.get(`${key(path)}:${element ?? ''}`),
  };
}

/** A zombie (dead, not yet reaped by a non-reaping init) counts as gone. */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

async function setup(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'engine-e2e-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function run(
  dir: string,
  document: string,
  params: CwlObject,
  host: EngineHost,
  signal = new AbortController().signal,
  onError: OnError = 'stop',
  runExecutor: Executor = executor,
): Promise<CwlObject> {
  const process = await loadProcess({ documentUrl: document, baseDir: dir });
  const inputs = prepareInputs(process, params, dir);
  const policy = await PathPolicy.create(dir);
  return materializeOutputs(
    await executeProcess(process, inputs, { runDir: join(dir, 'run'), logsDir: join(dir, 'logs'), policy, executor: runExecutor, host, signal, onError }),
  );
}

const echoTool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs: {word: {type: string, inputBinding: {}}}
stdout: out.txt
outputs: {out: {type: File, outputBinding: {glob: out.txt}}}
`;

/** A scatter of `sh -c` over its `scripts`. */
const SH_SCATTER = {
  'sh.cwl': `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
inputs: {script: {type: string, inputBinding: {}}}
outputs: []
`,
  'wf.cwl': `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs: {scripts: 'string[]'}
outputs: []
steps:
  each: {run: sh.cwl, scatter: script, in: {script: scripts}, out: []}
`,
};

describe('executing workflows', () => {
  it('runs a scatter as one job per element and reports steps, scatter size and jobs', async () => {
    const dir = await setup({
      'echo.cwl': echoTool,
      'wf.cwl': `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs: {words: 'string[]'}
outputs: {outs: {type: 'File[]', outputSource: say/out}}
steps:
  say: {run: echo.cwl, scatter: word, in: {word: words}, out: [out]}
`,
    });
    const host = recordingHost();
    const result = await run(dir, 'wf.cwl', { words: ['a', 'b', 'c'] }, host);
    const outs = result.outs;
    assert.ok(Array.isArray(outs) && outs.length === 3);
    const texts = await Promise.all(outs.map((f) => readFile(String((f as CwlObject).path), 'utf8')));
    assert.deepEqual(texts, ['a\n', 'b\n', 'c\n']);
    assert.deepEqual((outs[0] as CwlObject).checksum, 'sha1$3f786850e387550fdab836ed7e6dc881de23001b');
    assert.deepEqual(host.events.slice(0, 3), [
      ['stepStarted', '0', undefined, 'input', 'words', false],
      ['stepStarted', '1', undefined, 'tool', 'say', true],
      ['scatterSized', '1', undefined, 3],
    ]);
    const ended = host.events.filter((e) => e[0] === 'jobEnded').map((e) => [e[2], e[3]]).sort();
    assert.deepEqual(ended, [[0, 'ok'], [1, 'ok'], [2, 'ok']]);
    const created = host.events.find((e) => e[0] === 'jobCreated' && e[2] === 1);
    assert.deepEqual(created?.[3], ['echo', 'b']);
  });

  it('reports an empty scatter and a skipped conditional step', async () => {
    const dir = await setup({
      'echo.cwl': echoTool,
      'wf.cwl': `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}, InlineJavascriptRequirement: {}}
inputs: {words: 'string[]', go: boolean}
outputs:
  outs: {type: 'File[]', outputSource: say/out}
  maybe: {type: 'File?', outputSource: cond/out}
steps:
  say: {run: echo.cwl, scatter: word, in: {word: words}, out: [out]}
  cond: {run: echo.cwl, when: $(inputs.go), in: {word: {default: hi}, go: go}, out: [out]}
`,
    });
    const host = recordingHost();
    const result = await run(dir, 'wf.cwl', { words: [], go: false }, host);
    assert.deepEqual(result, { outs: [], maybe: null });
    const pathOf = (label: string): unknown => host.events.find((e) => e[0] === 'stepStarted' && e[4] === label)?.[1];
    assert.ok(host.events.some((e) => e[0] === 'scatterSized' && e[1] === pathOf('say') && e[3] === 0));
    assert.ok(host.events.some((e) => e[0] === 'jobEnded' && e[1] === pathOf('cond') && e[3] === 'skipped'));
    assert.ok(!host.events.some((e) => e[0] === 'jobCreated'));
  });

  it('reuses the outputs of jobs the host reports completed instead of rerunning them', async () => {
    const dir = await setup({ 'echo.cwl': echoTool });
    const reused = { out: { class: 'File', location: 'file:///earlier/out.txt', path: '/earlier/out.txt', basename: 'out.txt' } };
    const host = recordingHost(new Map([['1:', reused]]));
    const result = await run(dir, 'echo.cwl', { word: 'again' }, host);
    assert.deepEqual(result, reused);
    assert.ok(!host.events.some((e) => e[0] === 'jobCreated'));
  });

  it('fails with CommandFailedError naming the step and exit code', async () => {
    const dir = await setup({
      'fail.cwl': `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'exit 3']
inputs: []
outputs: []
`,
      'wf.cwl': `cwlVersion: v1.2
class: Workflow
inputs: []
outputs: []
steps:
  breaks: {run: fail.cwl, in: [], out: []}
`,
    });
    const host = recordingHost();
    await assert.rejects(run(dir, 'wf.cwl', {}, host), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.match(error.message, /step breaks/);
      assert.match(error.message, /exit(ed with)? code 3/);
      return true;
    });
    assert.ok(host.events.some((e) => e[0] === 'jobEnded' && e[1] === '0' && e[3] === 'failed'));
  });

  it('fails a workflow whose steps read from each other in a cycle before any job, instead of hanging', async () => {
    const dir = await setup({
      'echo.cwl': echoTool,
      'wf.cwl': `cwlVersion: v1.2
class: Workflow
requirements: {StepInputExpressionRequirement: {}}
inputs: {w: string}
outputs: {o: {type: File, outputSource: b/out}}
steps:
  first: {run: echo.cwl, in: {word: w}, out: [out]}
  a: {run: echo.cwl, in: {word: {source: b/out, valueFrom: x}}, out: [out]}
  b: {run: echo.cwl, in: {word: {source: a/out, valueFrom: y}}, out: [out]}
`,
    });
    const host = recordingHost();
    await assert.rejects(run(dir, 'wf.cwl', { w: 'hi' }, host), (error: unknown) => {
      assert.ok(error instanceof InvalidWorkflowError, String(error));
      assert.match(error.message, /steps read from each other in a cycle: (a → b → a|b → a → b)/);
      return true;
    });
    assert.ok(!host.events.some((e) => e[0] === 'jobCreated'));
  });

  it('stops the other elements of a scatter when one fails, and reports the failure', async () => {
    const dir = await setup(SH_SCATTER);
    const host = recordingHost();
    await assert.rejects(run(dir, 'wf.cwl', { scripts: ['sleep 300', 'sleep 1; exit 5', 'sleep 300'] }, host), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError, String(error));
      assert.match(error.message, /step each \(element 1\)/);
      return true;
    });
    const ended = host.events.filter((e) => e[0] === 'jobEnded').map((e) => [e[2], e[3]]).sort();
    assert.deepEqual(ended, [[0, 'canceled'], [1, 'failed'], [2, 'canceled']]);
  });

  it('cancels: rejects with CancelledError and leaves no process behind', async () => {
    const dir = await setup({
      'slow.cwl': `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
arguments: ['sleep 300 & echo $! > "$0"; echo $$ >> "$0"; wait']
inputs: {pidfile: {type: string, inputBinding: {position: 1}}}
outputs: []
`,
    });
    const pidfile = join(dir, 'pids');
    const controller = new AbortController();
    const running = run(dir, 'slow.cwl', { pidfile }, recordingHost(), controller.signal);
    let pids: number[] = [];
    while (pids.length < 2) {
      await sleep(20);
      pids = await readFile(pidfile, 'utf8').then((t) => t.trim().split('\n').filter((l) => l !== '').map(Number), () => []);
    }
    controller.abort();
    await assert.rejects(running, CancelledError);
    for (const pid of pids) assert.equal(await isAlive(pid), false, `process ${pid} survived the cancel`);
  });

  it('runs a big scatter a window at a time and reports the elements a failure left unstarted', async () => {
    const dir = await setup(SH_SCATTER);
    const host = recordingHost();
    // Every element fails at once: the first failure, whichever it is, stops the run while most
    // of the scatter is still beyond the window.
    const scripts = Array.from({ length: 600 }, () => 'exit 5');
    await assert.rejects(run(dir, 'wf.cwl', { scripts }, host), CommandFailedError);
    const created = host.events.filter((e) => e[0] === 'jobCreated').length;
    assert.ok(created < 600, `only a window of elements is prepared, got ${created} jobs created`);
    const notRun = host.events.find((e) => e[0] === 'elementsNotRun');
    assert.ok(notRun !== undefined, 'the elements never started are reported');
    const [from, to] = [notRun[3] as number, notRun[4] as number];
    assert.equal(to, 600);
    const reported = new Set(host.events.filter((e) => e[0] === 'jobEnded').map((e) => e[2]));
    // Every element is accounted for exactly once: ended (ok, failed, canceled) or never run.
    assert.equal(reported.size, from);
    assert.ok([...reported].every((e) => typeof e === 'number' && e < from));
  });

  it("prepares a scatter's jobs only a few per executor slot ahead of them", async () => {
    const dir = await setup(SH_SCATTER);
    const host = recordingHost();
    const oneSlot = new RunLimitedExecutor(executor, { maxJobs: 1 });
    // Jobs that take a while, so that with a wider window many more would be prepared meanwhile.
    await run(dir, 'wf.cwl', { scripts: Array.from({ length: 60 }, () => 'sleep 0.05') }, host, undefined, 'stop', oneSlot);
    let outstanding = 0;
    let most = 0;
    for (const [kind] of host.events) {
      if (kind === 'jobCreated') most = Math.max(most, ++outstanding);
      if (kind === 'jobEnded') outstanding--;
    }
    assert.equal(host.events.filter((e) => e[0] === 'jobEnded').length, 60);
    assert.ok(most > 1, 'the next jobs are prepared while one runs');
    // One slot gets the narrowest window: 16 elements in flight, not 60.
    assert.ok(most <= 16, `at most the window of jobs prepared at once, got ${most}`);
  });

  it('on_error continue: a failed element stops nothing that does not depend on it', async () => {
    const dir = await setup({
      'sh.cwl': `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
inputs: {script: {type: string, inputBinding: {}}}
stdout: out.txt
outputs: {out: {type: File, outputBinding: {glob: out.txt}}}
`,
      'wf.cwl': `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs: {scripts: 'string[]', other: string}
outputs:
  outs: {type: 'File[]', outputSource: each/out}
  after: {type: 'File[]', outputSource: downstream/out}
  alone: {type: File, outputSource: independent/out}
steps:
  each: {run: sh.cwl, scatter: script, in: {script: scripts}, out: [out]}
  downstream: {run: sh.cwl, scatter: script, in: {script: {source: each/out, valueFrom: 'cat'}}, out: [out]}
  independent: {run: sh.cwl, in: {script: other}, out: [out]}
`,
    });
    const scripts = ['exit 7', 'sleep 0.3; echo b', 'exit 8', 'sleep 0.3; echo d'];
    const other = 'sleep 0.5; echo alone';
    const stopped = recordingHost();
    await assert.rejects(run(dir, 'wf.cwl', { scripts, other }, stopped), CommandFailedError);
    const stoppedEnds = stopped.events.filter((e) => e[0] === 'jobEnded' && e[3] === 'ok');
    assert.equal(stoppedEnds.length, 0, 'by default the first failure cancels the rest');

    const continued = recordingHost();
    await assert.rejects(run(dir, 'wf.cwl', { scripts, other }, continued, undefined, 'continue'), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.match(error.message, /^2 jobs failed; the first: .*exit(ed with)? code [78]/);
      return true;
    });
    const ends = continued.events.filter((e) => e[0] === 'jobEnded').map((e) => `${e[1]}${e[2] === undefined ? '' : `.${e[2]}`}=${e[3]}`).sort();
    const each = continued.events.find((e) => e[0] === 'stepStarted' && e[4] === 'each')?.[1];
    const independent = continued.events.find((e) => e[0] === 'stepStarted' && e[4] === 'independent')?.[1];
    assert.deepEqual(ends, [`${each}.0=failed`, `${each}.1=ok`, `${each}.2=failed`, `${each}.3=ok`, `${independent}=ok`].sort());
    assert.ok(!continued.events.some((e) => e[0] === 'stepStarted' && e[4] === 'downstream'), 'what depends on a failure does not run');
  });

  it('fails a step whose expression runs away, without hanging the run', async () => {
    const dir = await setup({
      'loop.cwl': `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: []
outputs: {x: int}
expression: '\${ var a = []; for (;;) { a.push(new Array(1000000).fill(1)); } }'
`,
    });
    await assert.rejects(run(dir, 'loop.cwl', {}, recordingHost()), (error: unknown) => error instanceof CommandFailedError && /exceeded the (64 MiB memory|20 s time) limit/.test(error.message));
  });
});

describe('describing steps', () => {
  it('numbers inputs first, then the steps (or the bare tool)', async () => {
    const dir = await setup({ 'echo.cwl': echoTool });
    const tool = await loadProcess({ documentUrl: 'echo.cwl', baseDir: dir });
    assert.deepEqual(
      describeTopLevelSteps(tool).map((s) => [s.path, s.kind, s.label]),
      [
        [[{ order: 0 }], 'input', 'word'],
        [[{ order: 1 }], 'tool', 'echo.cwl'],
      ],
    );
    await stat(join(dir, 'echo.cwl'));
  });
});
