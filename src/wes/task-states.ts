/**
 * The two vocabularies a task's state is asked for in, over the stored job states (plus
 * 'none': a task without a job, i.e. a workflow input or a step whose jobs do not exist yet):
 *  - TaskLog.state words (none, queued, running, complete, failed, skipped, canceled), the
 *    extension field the dashboard and the CLI already show;
 *  - WES states: QUEUED, RUNNING, COMPLETE (ok or skipped by `when`), EXECUTOR_ERROR, CANCELED
 *    and UNKNOWN (no job); the other WES states name no task.
 */
import { RUN_STATES, type RunState } from '../run-state.js';
import type { TaskRowState } from '../store/tables/job.table.js';
import { BadRequestError } from '../errors.js';
import { taskStateOf, type TaskState } from './to-wes.js';

export const TASK_STATES: readonly TaskState[] = ['none', 'queued', 'running', 'complete', 'failed', 'skipped', 'canceled'];
const ROW_STATES: readonly TaskRowState[] = ['none', 'new', 'queued', 'running', 'ok', 'error', 'skipped', 'canceled'];

export function wesStateOf(state: TaskRowState): RunState {
  switch (state) {
    case 'none':
      return 'UNKNOWN';
    case 'new':
    case 'queued':
      return 'QUEUED';
    case 'running':
      return 'RUNNING';
    case 'ok':
    case 'skipped':
      return 'COMPLETE';
    case 'error':
      return 'EXECUTOR_ERROR';
    case 'canceled':
      return 'CANCELED';
  }
}

export function taskWordOf(state: TaskRowState): TaskState {
  return taskStateOf(state === 'none' ? null : state);
}

/**
 * The stored states that `?state=` values name: each value a WES state or a TaskLog.state
 * word, several as repeated parameters or comma-separated. BadRequestError naming the value
 * otherwise. An empty result (e.g. PAUSED) matches no task.
 */
export function parseStateFilter(values: readonly string[]): TaskRowState[] {
  const states = new Set<TaskRowState>();
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if ((RUN_STATES as readonly string[]).includes(value)) {
      for (const state of ROW_STATES) if (wesStateOf(state) === value) states.add(state);
    } else if ((TASK_STATES as readonly string[]).includes(value)) {
      for (const state of ROW_STATES) if (taskWordOf(state) === value) states.add(state);
    } else {
      throw new BadRequestError(`state "${value}" is neither a WES state (${RUN_STATES.join(', ')}) nor a task state (${TASK_STATES.join(', ')})`);
    }
  }
  return [...states].sort();
}
