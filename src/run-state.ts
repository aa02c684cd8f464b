/** The WES State enum, and which states are final. */
export const RUN_STATES = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'CANCELING',
  'PREEMPTED',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const FINAL_STATES: readonly RunState[] = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED'];
export const ACTIVE_STATES: readonly RunState[] = ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'];

export function isFinal(state: RunState): boolean {
  return FINAL_STATES.includes(state);
}
