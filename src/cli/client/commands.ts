/**
 * The client commands of `wes`: submit (finding the files a workflow uses), wait, runs,
 * status, get, outputs, tasks, failures, summary, logs, cancel. Data goes to stdout (a run id, JSON, log text);
 * progress to stderr; an error is one line (main.ts) and a non-zero exit.
 */
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { WesClient } from './wes-client.js';
import { stringifyJson } from '../../exact-json.js';
import { collectSubmission } from './submission-files.js';
import { followRun } from './progress.js';
import { downloadOutputs } from './output-files.js';

interface ConnectionOptions {
  url: string;
  key?: string;
}

const FINAL_STATES = new Set(['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED']);
const FOLLOW_INTERVAL_MS = 1000;

function client(options: ConnectionOptions): WesClient {
  return new WesClient({ url: options.url, apiKey: options.key });
}

function print(value: unknown): void {
  process.stdout.write(`${stringifyJson(value)}\n`);
}

function withConnection(command: Command): Command {
  return command
    .option('--url <url>', 'server base URL (WES_URL)', process.env.WES_URL ?? 'http://127.0.0.1:8080')
    .option('--key <api key>', 'API key (WES_API_KEY)', process.env.WES_API_KEY);
}

function keyValue(value: string, previous: string[]): string[] {
  if (!value.includes('=')) throw new InvalidArgumentError(`"${value}" is not key=value`);
  return [...previous, value];
}

function keyValues(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface TaskListOptions {
  state: string[];
  failureGroup?: string;
  sort?: string;
  from?: string;
  limit?: string;
  pageSize: string;
}

/** Prints the items of every page of a listing (at most `limit`), one JSON line each. */
async function printPages(wes: WesClient, path: string, query: URLSearchParams, pageSize: string, field: string, limit?: number): Promise<void> {
  let token = '';
  let printed = 0;
  do {
    const pageQuery = new URLSearchParams(query);
    pageQuery.set('page_size', pageSize);
    if (token) pageQuery.set('page_token', token);
    const page = await wes.get<Record<string, unknown> & { next_page_token?: string }>(`${path}?${pageQuery}`);
    const items = page[field];
    for (const item of Array.isArray(items) ? items : []) {
      if (limit !== undefined && printed >= limit) return;
      print(item);
      printed++;
    }
    token = page.next_page_token ?? '';
  } while (token !== '');
}

function runPath(run: string, rest = ''): string {
  return `/runs/${encodeURIComponent(run)}${rest}`;
}

interface RunLogBody {
  state: string;
  outputs: Record<string, unknown>;
  run_log: { stderr?: string; stdout?: string };
}

/** Prints the run's outputs (downloaded into `outdir` first when given). */
async function printOutputs(wes: WesClient, run: string, outdir: string | undefined): Promise<void> {
  const { outputs } = await wes.get<RunLogBody>(runPath(run));
  const shown = outdir === undefined ? outputs : await downloadOutputs(wes, outputs, outdir);
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}

/** Copies a log to `out` from byte 0, then (following) what is appended until `done()` says so. */
async function streamLog(wes: WesClient, url: string, out: NodeJS.WritableStream, follow: boolean, done: () => Promise<boolean>): Promise<void> {
  let offset = 0;
  for (;;) {
    // Read "finished?" before the bytes, so nothing written before the end is missed.
    const finished = !follow || (await done());
    const bytes = await wes.fetchBytes(url, offset);
    if (bytes.length > 0) {
      out.write(bytes);
      offset += bytes.length;
    }
    if (finished) return;
    await delay(FOLLOW_INTERVAL_MS);
  }
}

export function addClientCommands(program: Command): void {
  withConnection(program.command('submit <workflow> [inputs]'))
    .description(
      'submit a CWL workflow with its inputs (JSON or YAML); attaches the tools, imports and input files it uses; prints the run id',
    )
    .option('--params <file>', 'the input object file (same as the [inputs] argument)')
    .option('--attach <files...>', 'more files to attach, beyond those found by reading the workflow', [])
    .option('--tag <key=value>', 'a tag (repeatable)', keyValue, [])
    .option('--engine-param <key=value>', 'a workflow_engine_parameter, e.g. max_jobs=2 (repeatable)', keyValue, [])
    .option('--cwl-version <v>', 'workflow_type_version (default: the cwlVersion of the workflow, else v1.2)')
    .option('--json', 'print {"run_id": …} instead of the bare id')
    .option('--wait', 'follow the run to its end, print its outputs; exit 0 only on COMPLETE')
    .option('--outdir <dir>', 'with --wait: download the outputs into this directory')
    .action(
      async (
        workflow: string,
        inputs: string | undefined,
        o: ConnectionOptions & { params?: string; attach: string[]; tag: string[]; engineParam: string[]; cwlVersion?: string; json?: boolean; wait?: boolean; outdir?: string },
      ) => {
        if (inputs !== undefined && o.params !== undefined) throw new Error('give the input object either as [inputs] or with --params, not both');
        const submission = await collectSubmission(workflow, inputs ?? o.params);
        const extra = o.attach.map((file) => path.resolve(file));
        const files = [...new Set([...submission.files, ...extra])];
        const root = files.every((f) => f.startsWith(`${submission.root}${path.sep}`)) ? submission.root : undefined;
        if (root === undefined) throw new Error(`--attach files must be inside ${submission.root}, the directory holding the workflow's files`);
        const wes = client(o);
        const runId = await wes.submit({
          root,
          files,
          workflowUrl: submission.workflowUrl,
          params: submission.params,
          tags: keyValues(o.tag),
          typeVersion: o.cwlVersion ?? submission.cwlVersion ?? 'v1.2',
          engineParameters: o.engineParam.length > 0 ? keyValues(o.engineParam) : undefined,
        });
        if (o.json) print({ run_id: runId });
        else process.stdout.write(`${runId}\n`);
        if (!o.wait) return;
        const state = await followRun(wes, runId, { out: process.stderr });
        await printOutputs(wes, runId, o.outdir);
        if (state !== 'COMPLETE') {
          process.stderr.write(`run ${runId} ended ${state}; see "wes logs ${runId}" and "wes tasks ${runId} --state failed"\n`);
          process.exitCode = 1;
        }
      },
    );

  withConnection(program.command('wait <run>'))
    .description('follow a run to its end (progress on stderr), print its outputs; exit 0 only on COMPLETE')
    .option('--outdir <dir>', 'download the outputs into this directory')
    .action(async (run: string, o: ConnectionOptions & { outdir?: string }) => {
      const wes = client(o);
      const state = await followRun(wes, run, { out: process.stderr });
      await printOutputs(wes, run, o.outdir);
      if (state !== 'COMPLETE') process.exitCode = 1;
    });

  withConnection(program.command('runs'))
    .description('list your runs, newest first (one page as JSON)')
    .option('--state <state>', 'only runs in this state, e.g. RUNNING')
    .option('--tag <key=value>', 'only runs with this tag (repeatable; all must match)', keyValue, [])
    .option('--page-size <n>', 'runs per page', '50')
    .option('--page-token <token>', 'continue from a previous page')
    .action(async (o: ConnectionOptions & { state?: string; tag: string[]; pageSize: string; pageToken?: string }) => {
      const query = new URLSearchParams({ page_size: o.pageSize });
      if (o.pageToken) query.set('page_token', o.pageToken);
      if (o.state) query.set('state', o.state);
      for (const tag of o.tag) query.append('tags', tag);
      print(await client(o).get(`/runs?${query}`));
    });

  withConnection(program.command('status <run>'))
    .description("print a run's state")
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).get(runPath(run, '/status'))));

  withConnection(program.command('get <run>'))
    .description("print a run's RunLog (request, state, outputs)")
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).get(runPath(run))));

  withConnection(program.command('outputs <run>'))
    .description("print a run's outputs; with --outdir download them and print their local paths")
    .option('--outdir <dir>', 'download the outputs into this directory')
    .action(async (run: string, o: ConnectionOptions & { outdir?: string }) => printOutputs(client(o), run, o.outdir));

  withConnection(program.command('tasks <run>'))
    .description("print a run's tasks, one JSON line per task, following every page")
    .option('--state <state>', 'only tasks in this state (repeatable): queued, running, complete, failed, skipped, canceled, none, or a WES state', collect, [])
    .option('--failure-group <id>', 'only the tasks of this failure group (an id from `wes failures`)')
    .option('--sort <order>', '-duration or -max_rss: the slowest or largest first')
    .option('--from <task>', 'start at this task id')
    .option('--limit <n>', 'print at most this many tasks')
    .option('--page-size <n>', 'tasks per request', '500')
    .action(async (run: string, o: ConnectionOptions & TaskListOptions) => {
      const query = new URLSearchParams();
      for (const state of o.state) query.append('state', state);
      if (o.failureGroup) query.set('failure_group', o.failureGroup);
      if (o.sort) query.set('sort', o.sort);
      if (o.from) query.set('from', o.from);
      await printPages(client(o), runPath(run, '/tasks'), query, o.pageSize, 'task_logs', o.limit === undefined ? undefined : Number(o.limit));
    });

  withConnection(program.command('failures <run>'))
    .description("print a run's failed tasks grouped by step, exit code and last stderr line, one JSON line per group")
    .option('--page-size <n>', 'groups per request', '100')
    .action(async (run: string, o: ConnectionOptions & { pageSize: string }) =>
      printPages(client(o), runPath(run, '/task-failures'), new URLSearchParams(), o.pageSize, 'failure_groups'),
    );

  withConnection(program.command('summary <run>'))
    .description("print a run's task counts per state (run and steps), CPU time and peak memory")
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).get(runPath(run, '/task-summary'))));

  withConnection(program.command('logs <run> [task]'))
    .description("print the run's engine log, or a task's stdout (to stdout) and stderr (to stderr); -f follows until it ends")
    .option('-f, --follow', 'keep printing what is appended until the run (or task) has ended')
    .action(async (run: string, task: string | undefined, o: ConnectionOptions & { follow?: boolean }) => {
      const wes = client(o);
      const runEnded = async () => FINAL_STATES.has((await wes.get<{ state: string }>(runPath(run, '/status'))).state);
      if (task === undefined) {
        const { run_log: log } = await wes.get<RunLogBody>(runPath(run));
        const url = log.stderr ?? log.stdout;
        if (url === undefined) throw new Error(`run ${run} has no log`);
        await streamLog(wes, url, process.stdout, o.follow === true, runEnded);
        return;
      }
      const taskPath = runPath(run, `/tasks/${encodeURIComponent(task)}`);
      const info = await wes.get<{ stdout?: string; stderr?: string }>(taskPath);
      const taskEnded = async () =>
        (await wes.get<{ end_time?: string }>(taskPath)).end_time !== undefined || (await runEnded());
      if (info.stdout === undefined && info.stderr === undefined) throw new Error(`task ${task} has no logs (it ran no job)`);
      await Promise.all([
        info.stdout === undefined ? undefined : streamLog(wes, info.stdout, process.stdout, o.follow === true, taskEnded),
        info.stderr === undefined ? undefined : streamLog(wes, info.stderr, process.stderr, o.follow === true, taskEnded),
      ]);
    });

  withConnection(program.command('cancel <run>'))
    .description('cancel a run')
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).post(runPath(run, '/cancel'))));
}
