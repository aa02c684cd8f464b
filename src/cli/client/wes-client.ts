/**
 * A small HTTP client of a WES server for the `wes` CLI: it only speaks the WES API (plus
 * this server's log endpoints), so it works against any WES 1.1 server.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseJson, stringifyJson } from '../../exact-json.js';

export interface ClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080 (the /ga4gh/wes/v1 prefix is added). */
  readonly url: string;
  readonly apiKey?: string;
}

export class WesClientError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'WesClientError';
  }
}

export interface SubmitRequest {
  readonly workflowFile: string;
  readonly params: Record<string, unknown>;
  readonly attachments: readonly string[];
  readonly tags: Record<string, string>;
  readonly typeVersion: string;
}

export class WesClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.#base = `${options.url.replace(/\/+$/, '')}/ga4gh/wes/v1`;
    this.#headers = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    return this.#json<T>(await fetch(`${this.#base}${pathAndQuery}`, { headers: this.#headers }));
  }

  async post<T>(pathAndQuery: string, body?: FormData): Promise<T> {
    return this.#json<T>(await fetch(`${this.#base}${pathAndQuery}`, { method: 'POST', headers: this.#headers, body }));
  }

  /** Submits a workflow file (attached, relative to its directory) with more attachments. */
  async submit(request: SubmitRequest): Promise<string> {
    const root = path.dirname(path.resolve(request.workflowFile));
    const form = new FormData();
    form.append('workflow_type', 'CWL');
    form.append('workflow_type_version', request.typeVersion);
    form.append('workflow_url', path.basename(request.workflowFile));
    form.append('workflow_params', stringifyJson(request.params));
    form.append('tags', JSON.stringify(request.tags));
    for (const file of new Set([path.resolve(request.workflowFile), ...request.attachments.map((a) => path.resolve(a))])) {
      const name = path.relative(root, file);
      if (name.startsWith('..')) throw new WesClientError(`attachment ${file} is not inside ${root}, the workflow's directory`, 0);
      form.append('workflow_attachment', new Blob([await fs.readFile(file)]), name.split(path.sep).join('/'));
    }
    return (await this.post<{ run_id: string }>('/runs', form)).run_id;
  }

  async #json<T>(response: Response): Promise<T> {
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { msg?: string }).msg ?? text;
      } catch {
        // Not an ErrorResponse (e.g. a proxy's page): show it as it came.
      }
      throw new WesClientError(`${response.status}: ${message}`, response.status);
    }
    return parseJson(text) as T;
  }
}
