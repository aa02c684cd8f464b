/**
 * The task endpoints: ListTasks (with the state / failure-group / resource-use / from
 * extensions), GetTask, each task's stdout/stderr as text, and the run's task counts, task
 * summary and failure groups.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../wes/services.js';
import { baseUrlOf, type LinkOptions } from '../base-url.js';
import { PageQuery, RunParams, TaskListQuery, TaskParams } from '../schemas/params.js';
import { sendLog } from '../send-log.js';

export interface TaskRoutesOptions {
  readonly services: Services;
  readonly links: LinkOptions;
}

export const taskRoutes: FastifyPluginAsyncTypebox<TaskRoutesOptions> = async (app, { services, links }) => {
  app.get('/runs/:run_id/tasks', { schema: { params: RunParams, querystring: TaskListQuery } }, async (request) => {
    const { page_size, page_token, state, failure_group, sort, from } = request.query;
    const states = state?.filter((s) => s !== '');
    return services.tasks.listTasks(
      request.caller,
      request.params.run_id,
      { pageSize: page_size, pageToken: page_token },
      baseUrlOf(request, links),
      { states: states?.length ? states : undefined, failureGroup: failure_group, sort, from },
    );
  });

  app.get('/runs/:run_id/task-summary', { schema: { params: RunParams } }, async (request) =>
    services.taskSummary.summarize(request.caller, request.params.run_id),
  );

  app.get('/runs/:run_id/task-failures', { schema: { params: RunParams, querystring: PageQuery } }, async (request) =>
    services.taskSummary.listFailures(
      request.caller,
      request.params.run_id,
      { pageSize: request.query.page_size, pageToken: request.query.page_token },
      baseUrlOf(request, links),
    ),
  );

  app.get('/runs/:run_id/task-counts', { schema: { params: RunParams } }, async (request) =>
    services.tasks.countTasks(request.caller, request.params.run_id),
  );

  app.get('/runs/:run_id/tasks/:task_id', { schema: { params: TaskParams } }, async (request) =>
    services.tasks.getTask(request.caller, request.params.run_id, request.params.task_id, baseUrlOf(request, links)),
  );

  for (const stream of ['stdout', 'stderr'] as const) {
    app.get(`/runs/:run_id/tasks/:task_id/${stream}`, { schema: { params: TaskParams } }, async (request, reply) => {
      const { run_id, task_id } = request.params;
      return sendLog(request, reply, await services.tasks.getLogFile(request.caller, run_id, task_id, stream));
    });
  }
};
