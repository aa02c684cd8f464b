/** The task endpoints: ListTasks, GetTask, each task's stdout/stderr as text, and the run's task counts by state. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../wes/services.js';
import { baseUrlOf, type LinkOptions } from '../base-url.js';
import { PageQuery, RunParams, TaskParams } from '../schemas/params.js';
import { sendLog } from '../send-log.js';

export interface TaskRoutesOptions {
  readonly services: Services;
  readonly links: LinkOptions;
}

export const taskRoutes: FastifyPluginAsyncTypebox<TaskRoutesOptions> = async (app, { services, links }) => {
  app.get('/runs/:run_id/tasks', { schema: { params: RunParams, querystring: PageQuery } }, async (request) =>
    services.tasks.listTasks(
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
