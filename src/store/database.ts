import type { ApiKeyTable, ServerSettingTable, UserTable } from './tables/user.table.js';
import type { WesServerTable } from './tables/server.table.js';
import type { WorkflowStepTable, WorkflowTable } from './tables/workflow.table.js';
import type { WorkflowInvocationStepTable, WorkflowInvocationTable, WorkflowInvocationTagTable } from './tables/invocation.table.js';
import type {
  ImplicitCollectionJobsJobAssociationTable,
  ImplicitCollectionJobsTable,
  JobTable,
  TaskFailureCountTable,
  TaskFailureGroupTable,
  TaskStateCountTable,
  TaskStepUsageTable,
} from './tables/job.table.js';

export interface Database {
  app_user: UserTable;
  api_key: ApiKeyTable;
  server_setting: ServerSettingTable;
  workflow: WorkflowTable;
  workflow_step: WorkflowStepTable;
  workflow_invocation: WorkflowInvocationTable;
  workflow_invocation_step: WorkflowInvocationStepTable;
  workflow_invocation_tag: WorkflowInvocationTagTable;
  job: JobTable;
  implicit_collection_jobs: ImplicitCollectionJobsTable;
  implicit_collection_jobs_job_association: ImplicitCollectionJobsJobAssociationTable;
  wes_server: WesServerTable;
  task_state_count: TaskStateCountTable;
  task_failure_group: TaskFailureGroupTable;
  task_failure_count: TaskFailureCountTable;
  task_step_usage: TaskStepUsageTable;
}
