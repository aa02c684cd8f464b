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
  /** Every file to attach, absolute, named relative to `root`. */
  readonly root: string;
  readonly files: readonly string[];
  readonly workflowUrl: string;
  readonly params: Record<string, unknown>;
  readonly tags: Record<string, string>;
  readonly typeVersion: string;
  readonly engineParameters?: Record<string, string>;
}

export class WesClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.#base = `${options.url.replace(/\/+$/, '')}/ga4gh/wes/v1`;
    this.#headers = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    return this.#json<T>(await this.#fetch(`${this.#base}${pathAndQuery}`, { headers: this.#headers }));
  }

  async post<T>(pathAndQuery: string, body?: FormData): Promise<T> {
    return this.#json<T>(await this.#fetch(`${this.#base}${pathAndQuery}`, { method: 'POST', headers: this.#headers, body }));
  }

  /** Submits a run: the form fields, then each file under its name relative to the root. */
  async submit(request: SubmitRequest): Promise<string> {
    const form = new FormData();
    form.append('workflow_type', 'CWL');
    form.append('workflow_type_version', request.typeVersion);
    form.append('workflow_url', request.workflowUrl);
    form.append('workflow_params', stringifyJson(request.params));
    form.append('tags', JSON.stringify(request.tags));
    if (request.engineParameters !== undefined) form.append('workflow_engine_parameters', JSON.stringify(request.engineParameters));
    for (const file of request.files) {
      const name = path.relative(request.root, file).split(path.sep).join('/');
      form.append('workflow_attachment', new Blob([await fs.readFile(file)]), name);
    }
    return (await this.post<{ run_id: string }>('/runs', form)).run_id;
  }

  /**
   * A log or output by URL (absolute, or a path under the API), from byte `from` on; the key
   * is sent only to this server, never to another host a URL may name.
   */
  async fetchBytes(url: string, from = 0): Promise<Buffer> {
    const absolute = new URL(url, `${this.#base}/`);
    const sameServer = absolute.origin === new URL(this.#base).origin;
    const headers: Record<string, string> = { ...(sameServer ? this.#headers : {}), ...(from > 0 ? { range: `bytes=${from}-` } : {}) };
    const response = await this.#fetch(absolute.href, { headers });
    if (response.status === 416) return Buffer.alloc(0);
    if (!response.ok) await this.#json(response);
    return Buffer.from(await response.arrayBuffer());
  }

  /** fetch, with a network failure said in one line ("cannot reach …: ECONNREFUSED"). */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new WesClientError(`cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 0);
    }
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
