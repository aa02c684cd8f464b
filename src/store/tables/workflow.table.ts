import type { Generated, Insertable, Selectable } from 'kysely';

/** A workflow as submitted; subworkflows get their own row so their steps have a home. */
export interface WorkflowTable {
  id: Generated<number>;
  name: string;
  create_time: string;
}
export type NewWorkflow = Insertable<WorkflowTable>;

export type WorkflowStepType = 'input' | 'tool' | 'subworkflow';

export interface WorkflowStepTable {
  id: Generated<number>;
  workflow_id: number;
  order_index: number;
  type: WorkflowStepType;
  label: string | null;
  tool_id: string | null;
}
export type WorkflowStepRow = Selectable<WorkflowStepTable>;
export type NewWorkflowStep = Insertable<WorkflowStepTable>;
