/** Submitting and following runs over HTTP in end-to-end tests. */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestApp } from '../helpers/test-app.js';
import { multipartBody, type FormFile } from '../helpers/multipart.js';

export const FINAL = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'];

export async function submitWorkflow(
  app: TestApp,
  auth: string,
  workflowUrl: string,
  params: Record<string, unknown>,
  files: readonly FormFile[],
  engineParameters?: Record<string, string>,
): Promise<string> {
  const { payload, headers } = await multipartBody(
    {
      workflow_type: 'CWL',
      workflow_type_version: 'v1.2',
      workflow_url: workflowUrl,
      workflow_params: JSON.stringify(params),
      ...(engineParameters === undefined ? {} : { workflow_engine_parameters: JSON.stringify(engineParameters) }),
    },
    files,
  );
  const response = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { run_id: string }).run_id;
}

export async function getJson<T>(app: TestApp, auth: string, url: string): Promise<T> {
  const response = await app.app.inject({ url: `/ga4gh/wes/v1${url}`, headers: { authorization: auth } });
  assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  return response.json() as T;
}

/** Polls the run's status until `done(state)`; a safety limit only (not a timing assertion). */
export async function waitForState(app: TestApp, auth: string, runId: string, done: (state: string) => boolean = (s) => FINAL.includes(s)): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const { state } = await getJson<{ state: string }>(app, auth, `/runs/${runId}/status`);
    if (done(state)) return state;
    await delay(100);
  }
  throw new Error(`run ${runId} did not reach the expected state`);
}

export async function allTasks(app: TestApp, auth: string, runId: string, pageSize = 100): Promise<Record<string, unknown>[]> {
  const tasks: Record<string, unknown>[] = [];
  let token = '';
  do {
    const page = await getJson<{ task_logs: Record<string, unknown>[]; next_page_token: string }>(
      app,
      auth,
      `/runs/${runId}/tasks?page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
    );
    tasks.push(...page.task_logs);
    token = page.next_page_token;
  } while (token !== '');
  return tasks;
}
