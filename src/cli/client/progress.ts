/**
 * `wes submit --wait` and `wes wait`: follows a run until it ends. On a terminal one line is
 * redrawn (state, a bar of finished tasks, running and failed counts, elapsed time); otherwise
 * a plain line is written whenever something changed, so logs of CI jobs stay readable.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { WesClient } from './wes-client.js';

const FINAL_STATES = new Set(['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED']);
const BAR_WIDTH = 24;

interface TaskCounts {
  total: number;
  states: Record<string, number>;
}

export interface ProgressOptions {
  readonly out: NodeJS.WriteStream;
  readonly intervalMs?: number;
}

/** Polls until the run is final; returns its final state. */
export async function followRun(client: WesClient, runId: string, options: ProgressOptions): Promise<string> {
  const started = Date.now();
  const tty = options.out.isTTY === true;
  let lastLine = '';
  for (;;) {
    const { state } = await client.get<{ state: string }>(`/runs/${encodeURIComponent(runId)}/status`);
    // Task counts are this server's extension; another WES server just shows the state.
    const counts = await client.get<TaskCounts>(`/runs/${encodeURIComponent(runId)}/task-counts`).catch(() => undefined);
    const line = describe(state, counts, Date.now() - started, tty);
    if (tty) options.out.write(`\r\x1b[2K${line}`);
    else if (stripElapsed(line) !== stripElapsed(lastLine)) options.out.write(`${line}\n`);
    lastLine = line;
    if (FINAL_STATES.has(state)) {
      if (tty) options.out.write('\n');
      return state;
    }
    await delay(options.intervalMs ?? 1000);
  }
}

function describe(state: string, counts: TaskCounts | undefined, elapsedMs: number, tty: boolean): string {
  const elapsed = formatElapsed(elapsedMs);
  if (counts === undefined) return `${elapsed} ${state}`;
  const n = (s: string) => counts.states[s] ?? 0;
  const jobs = counts.total - n('none');
  const done = n('complete') + n('skipped');
  const summary = `${done}/${jobs} done, ${n('running')} running, ${n('failed')} failed`;
  if (!tty) return `${elapsed} ${state} ${summary}`;
  const filled = jobs === 0 ? 0 : Math.round((done / jobs) * BAR_WIDTH);
  return `${state.padEnd(14)} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${summary}  ${elapsed}`;
}

function stripElapsed(line: string): string {
  return line.replace(/^\d+:\d\d(:\d\d)? /, '');
}

function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  const [h, m, sec] = hms.map((v) => String(v).padStart(2, '0'));
  return hms[0] > 0 ? `${h}:${m}:${sec}` : `${hms[1]}:${sec}`;
}
