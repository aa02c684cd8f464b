/** The client commands of `wes`: submit, runs, status, get, tasks, cancel. Output is JSON lines. */
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { WesClient } from './wes-client.js';
import { parseJson, stringifyJson } from '../../exact-json.js';

interface ConnectionOptions {
  url: string;
  key?: string;
}

function client(options: ConnectionOptions): WesClient {
  return new WesClient({ url: options.url, apiKey: options.key });
}

function print(value: unknown): void {
  process.stdout.write(`${stringifyJson(value)}\n`);
}

function withConnection(command: Command): Command {
  return command
    .option('--url <url>', 'server base URL (WES_URL)', process.env.WES_URL ?? 'http://127.0.0.1:8080')
    .option('--key <api key>', 'API key (WES_API_KEY)', process.env.WES_API_KEY);
}

export function addClientCommands(program: Command): void {
  withConnection(program.command('submit <workflow>'))
    .description('submit a CWL workflow file (attached with --attach files, relative to its directory); prints the run id')
    .option('--params <file.json>', 'the workflow_params input object, from a JSON file')
    .option('--attach <files...>', 'more files to attach (inputs, tools the workflow imports)', [])
    .option('--tag <key=value...>', 'tags', [])
    .option('--cwl-version <v>', 'workflow_type_version', 'v1.2')
    .action(async (workflow: string, o: ConnectionOptions & { params?: string; attach: string[]; tag: string[]; cwlVersion: string }) => {
      const params = o.params === undefined ? {} : (parseJson(await fs.readFile(o.params, 'utf8')) as Record<string, unknown>);
      const tags = Object.fromEntries(o.tag.map((t) => [t.split('=')[0], t.split('=').slice(1).join('=')]));
      print({ run_id: await client(o).submit({ workflowFile: workflow, params, attachments: o.attach, tags, typeVersion: o.cwlVersion }) });
    });

  withConnection(program.command('runs'))
    .description('list your runs, newest first')
    .option('--page-size <n>', 'runs per page', '50')
    .option('--page-token <token>', 'continue from a previous page')
    .action(async (o: ConnectionOptions & { pageSize: string; pageToken?: string }) => {
      const query = new URLSearchParams({ page_size: o.pageSize, ...(o.pageToken ? { page_token: o.pageToken } : {}) });
      print(await client(o).get(`/runs?${query}`));
    });

  withConnection(program.command('status <run>'))
    .description("print a run's state")
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).get(`/runs/${encodeURIComponent(run)}/status`)));

  withConnection(program.command('get <run>'))
    .description("print a run's RunLog (request, state, outputs)")
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).get(`/runs/${encodeURIComponent(run)}`)));

  withConnection(program.command('tasks <run>'))
    .description("print a run's tasks, one JSON line per task, following every page")
    .option('--page-size <n>', 'tasks per request', '500')
    .action(async (run: string, o: ConnectionOptions & { pageSize: string }) => {
      let token = '';
      do {
        const query = new URLSearchParams({ page_size: o.pageSize, ...(token ? { page_token: token } : {}) });
        const page = await client(o).get<{ task_logs?: unknown[]; next_page_token?: string }>(
          `/runs/${encodeURIComponent(run)}/tasks?${query}`,
        );
        for (const task of page.task_logs ?? []) print(task);
        token = page.next_page_token ?? '';
      } while (token !== '');
    });

  withConnection(program.command('cancel <run>'))
    .description('cancel a run')
    .action(async (run: string, o: ConnectionOptions) => print(await client(o).post(`/runs/${encodeURIComponent(run)}/cancel`)));
}
