/** TypeBox schemas of path and query parameters (the spec's RunId path param, paging query). */
import { Type } from '@fastify/type-provider-typebox';

export const RunParams = Type.Object({ run_id: Type.String() });
export const TaskParams = Type.Object({ run_id: Type.String(), task_id: Type.String() });
export const OutputParams = Type.Object({ run_id: Type.String(), '*': Type.String() });
export const PageQuery = Type.Object({
  page_size: Type.Optional(Type.Integer()),
  page_token: Type.Optional(Type.String()),
});

/** ListRuns also narrows by state and by tags (as sapporo does): `tags=name=value` or `name:value`, repeatable, all must match. */
export const RunListQuery = Type.Object({
  page_size: Type.Optional(Type.Integer()),
  page_token: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Array(Type.String())),
});

/** ListTasks also narrows by state or failure group, orders by resource use, or starts at a task (issue 10). */
export const TaskListQuery = Type.Object({
  page_size: Type.Optional(Type.Integer()),
  page_token: Type.Optional(Type.String()),
  state: Type.Optional(Type.Array(Type.String())),
  failure_group: Type.Optional(Type.String()),
  sort: Type.Optional(Type.String()),
  from: Type.Optional(Type.String()),
});
