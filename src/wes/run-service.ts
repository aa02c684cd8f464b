/**
 * Use cases on runs: submit, read, list, cancel. Every read goes through the caller's user
 * id, so another user's run is "not found" exactly like a missing one.
 */
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { findRunForUser, insertRun, listRunsPage, markRunState, type RunFilter } from '../store/queries/runs.js';
import type { WorkflowInvocationRow } from '../store/tables/invocation.table.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { isFinal, type RunState } from '../run-state.js';
import type { AttachmentStaging } from './attachments.js';
import { RUN_LAYOUT } from '../run-layout.js';
import type { PageTokenCodec } from './page-token.js';
import { presentToken, resolvePageSize, splitLookAhead, type PageRequest } from './paging.js';
import { parseRunRequest } from './run-request.js';
import { parseStoredRequest, runLogJson, runUrl, toRunLog, toRunSummary } from './to-wes.js';
import type { RunListResponse } from './wes-types.js';
import type { RunLauncher, WorkflowGraph } from '../run-launcher.js';
import type { RunFile } from '../run-files.js';
import { stringifyJson } from '../exact-json.js';
import { linkedOutputs, linkedText } from './linked-outputs.js';

export interface Caller {
  readonly userId: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function runsDirOf(dataDir: string): string {
  return path.join(dataDir, 'runs');
}

/** The run if it exists and belongs to the caller; NotFoundError otherwise. 0 or 1 query. */
export async function getOwnedRun(db: Kysely<Database>, caller: Caller, runId: string): Promise<WorkflowInvocationRow> {
  const run = UUID.test(runId) ? await findRunForUser(db, runId, caller.userId) : undefined;
  if (run === undefined) throw new NotFoundError(`run ${runId} not found`);
  return run;
}

export class RunService {
  readonly #db: Kysely<Database>;
  readonly #tokens: PageTokenCodec;
  readonly #runsDir: string;
  readonly #launcher: RunLauncher | undefined;

  constructor(options: { db: Kysely<Database>; tokens: PageTokenCodec; dataDir: string; launcher?: RunLauncher }) {
    this.#db = options.db;
    this.#tokens = options.tokens;
    this.#runsDir = runsDirOf(options.dataDir);
    this.#launcher = options.launcher;
  }

  get runsDir(): string {
    return this.#runsDir;
  }

  /**
   * Records a run from the form's fields and staged attachments, as QUEUED, and starts it.
   * On any error the staged files are discarded and nothing is recorded.
   */
  async submit(caller: Caller, fields: ReadonlyMap<string, string>, staging: AttachmentStaging): Promise<string> {
    const uuid = randomUUID();
    const runDir = path.join(this.#runsDir, uuid);
    let committed = false;
    try {
      const request = parseRunRequest(fields);
      await this.#launcher?.check(request, staging.attachmentsDir);
      await staging.commitTo(runDir);
      committed = true;
      const now = new Date().toISOString();
      const run = await this.#db.transaction().execute((trx) => insertRun(trx, {
        uuid,
        user_id: caller.userId,
        workflow_id: null,
        state: 'QUEUED',
        request: stringifyJson(request),
        run_dir: runDir,
        outputs: null,
        message: null,
        create_time: now,
        start_time: null,
        end_time: null,
        update_time: now,
      }, request.tags));
      this.#launcher?.start(run.id, run.user_id);
      return uuid;
    } catch (error) {
      if (committed) await fsp.rm(runDir, { recursive: true, force: true });
      else await staging.discard();
      throw error;
    }
  }

  /** The RunLog as JSON (UTF-8), in pieces: its outputs may be tens of MB, linked as they are sent (linked-outputs.ts). */
  async getRunLogJson(caller: Caller, runId: string, baseUrl: string): Promise<AsyncIterable<Buffer>> {
    const row = await getOwnedRun(this.#db, caller, runId);
    const url = runUrl(baseUrl, row.uuid);
    // Runs completed before outputs moved to outputs.json kept them in the row.
    const outputs =
      row.outputs !== null ? linkedText(row.outputs, row.run_dir, url) : row.state === 'COMPLETE' ? await linkedOutputs(row.run_dir, url) : undefined;
    return runLogJson(toRunLog(row, baseUrl), outputs ?? { first: Buffer.from('{}') });
  }

  async getRunState(caller: Caller, runId: string): Promise<{ run_id: string; state: RunState }> {
    const run = await getOwnedRun(this.#db, caller, runId);
    return { run_id: run.uuid, state: run.state };
  }

  /** The run's workflow as a graph (loaded again from its attachments); not found without an engine. */
  async getWorkflowGraph(caller: Caller, runId: string): Promise<WorkflowGraph> {
    const run = await getOwnedRun(this.#db, caller, runId);
    if (this.#launcher?.describe === undefined) throw new NotFoundError(`run ${runId} has no workflow graph on this server`);
    return this.#launcher.describe(parseStoredRequest(run.request), path.join(run.run_dir, RUN_LAYOUT.attachments));
  }

  /** The engine's own log of the run (a file in the run directory, never read through a link). */
  async getEngineLogFile(caller: Caller, runId: string): Promise<RunFile> {
    const run = await getOwnedRun(this.#db, caller, runId);
    return { path: path.join(run.run_dir, RUN_LAYOUT.engineLog), runDir: run.run_dir, followLinks: false };
  }

  /**
   * A file of the run's outputs by its path inside the run directory (as linked from
   * RunLog.outputs); a path that is not a file inside the run directory is not found.
   */
  async getOutputFile(caller: Caller, runId: string, relativePath: string): Promise<RunFile> {
    const run = await getOwnedRun(this.#db, caller, runId);
    const runDir = path.resolve(run.run_dir);
    const target = path.resolve(runDir, relativePath);
    const notFound = new NotFoundError(`output ${relativePath} not found in run ${runId}`);
    if (relativePath === '' || !target.startsWith(runDir + path.sep)) throw notFound;
    // A symlink in a job's directory must not lead outside the run either.
    const real = await fsp.realpath(target).catch(() => undefined);
    if (real === undefined || !real.startsWith((await fsp.realpath(runDir)) + path.sep)) throw notFound;
    if (!(await fsp.stat(real)).isFile()) throw notFound;
    // Opened again by openRunFile, which re-checks the file it actually opens.
    return { path: real, runDir, followLinks: true };
  }

  async listRuns(caller: Caller, page: PageRequest, filter: RunFilter = {}): Promise<RunListResponse> {
    const pageSize = resolvePageSize(page.pageSize);
    // A token continues the listing it came from: the filter is part of its scope.
    const filtered = filter.state !== undefined || (filter.tags?.length ?? 0) > 0;
    const scope = filtered ? `runs:${caller.userId}:${JSON.stringify(filter)}` : `runs:${caller.userId}`;
    const token = presentToken(page.pageToken);
    const before = token === undefined ? undefined : decodeRunCursor(this.#tokens.decode(token, scope));
    const { items, continueAfter: last } = splitLookAhead(await listRunsPage(this.#db, caller.userId, before, pageSize + 1, filter), pageSize);
    return {
      runs: items.map(toRunSummary),
      next_page_token: last === undefined ? '' : this.#tokens.encode(scope, [last.create_time, last.uuid]),
    };
  }

  /**
   * Cancels a run: a queued run becomes CANCELED at once; an initializing or running one
   * CANCELING until the engine has stopped it; a finished or already canceling run is left as is.
   */
  async cancel(caller: Caller, runId: string): Promise<{ run_id: string }> {
    const run = await getOwnedRun(this.#db, caller, runId);
    const now = new Date().toISOString();
    if (run.state === 'QUEUED' && (await markRunState(this.#db, run.id, ['QUEUED'], 'CANCELED', now, { end_time: now }))) {
      this.#launcher?.cancel(run.id);
      return { run_id: run.uuid };
    }
    if (!isFinal(run.state) && (await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING'], 'CANCELING', now))) {
      this.#launcher?.cancel(run.id);
    }
    return { run_id: run.uuid };
  }
}

function decodeRunCursor(key: readonly unknown[]): { createTime: string; uuid: string } {
  const [createTime, uuid] = key;
  if (key.length !== 2 || typeof createTime !== 'string' || typeof uuid !== 'string') {
    throw new BadRequestError('page_token is malformed');
  }
  return { createTime, uuid };
}
