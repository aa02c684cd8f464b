/**
 * The contract between the API side (wes/run-service) and whatever runs workflows
 * (engine/runner): a neutral module so neither imports the other.
 */
import type { RunRequest } from './wes/wes-types.js';
import type { WorkflowGraph } from './engine/index.js';

export type { RunRequest, WorkflowGraph };

/** The engine as the run service sees it. */
export interface RunLauncher {
  /** Checks that the workflow and its inputs can run; throws InvalidWorkflowError. Nothing is recorded yet. */
  check(request: RunRequest, attachmentsDir: string): Promise<void>;
  /**
   * Starts the recorded, QUEUED run of user `userId` in the background, or leaves it QUEUED
   * until one of the user's earlier runs ends (the per-user run limit) or, when this server
   * has no room, for another server sharing the store to claim.
   */
  start(invocationId: number, userId: number): void;
  /**
   * Asks the engine to stop a CANCELING run, here or on the server sharing the store that
   * drives it; that engine marks it CANCELED once nothing runs.
   */
  cancel(invocationId: number): void;
  /** The workflow of a stored run as a graph for display (the dashboard); throws like check(). */
  describe?(request: RunRequest, attachmentsDir: string): Promise<WorkflowGraph>;
}
