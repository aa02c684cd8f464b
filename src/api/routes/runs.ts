/** The run endpoints: ListRuns, RunWorkflow, GetRunLog, GetRunStatus, CancelRun, and the run's engine log and workflow graph. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart, { type Multipart } from '@fastify/multipart';
import { BadRequestError, WesError } from '../../errors.js';
import { AttachmentStaging } from '../../wes/attachments.js';
import { isKnownField, parseRunFilter } from '../../wes/run-request.js';
import type { Services } from '../../wes/services.js';
import { baseUrlOf, type LinkOptions } from '../base-url.js';
import { OutputParams, RunListQuery, RunParams } from '../schemas/params.js';
import { sendLog } from '../send-log.js';

export interface RunRoutesOptions {
  readonly services: Services;
  readonly links: LinkOptions;
  readonly maxUploadBytes: number;
}

/** Most workflow_attachment files in one POST /runs (README "Limits"). */
export const MAX_ATTACHMENTS = 10_000;
/** Most form fields (the spec defines 8; duplicates and unknown ones are refused anyway). */
const MAX_FIELDS = 32;
/** Largest form field, e.g. workflow_params. */
const MAX_FIELD_BYTES = 16 * 1024 * 1024;

export const runRoutes: FastifyPluginAsyncTypebox<RunRoutesOptions> = async (app, { services, links, maxUploadBytes }) => {
  await app.register(multipart, {
    // Attachment names may have sub-directories (checked by safeAttachmentPath); busboy would keep only the basename.
    preservePath: true,
    // `parts` defaults to 1000, which would cap attachments far below MAX_ATTACHMENTS.
    limits: { fileSize: maxUploadBytes, fieldSize: MAX_FIELD_BYTES, fields: MAX_FIELDS, files: MAX_ATTACHMENTS, parts: MAX_ATTACHMENTS + MAX_FIELDS },
  });

  app.get('/runs', { schema: { querystring: RunListQuery } }, async (request) =>
    services.runs.listRuns(
      request.caller,
      { pageSize: request.query.page_size, pageToken: request.query.page_token },
      parseRunFilter(request.query.state, request.query.tags),
    ),
  );

  app.post('/runs', async (request) => {
    if (!request.isMultipart()) {
      throw new BadRequestError('POST /runs takes a multipart/form-data body (see the WES RunWorkflow operation)');
    }
    const staging = await AttachmentStaging.create(services.runs.runsDir, maxUploadBytes);
    const fields = new Map<string, string>();
    try {
      const parts = request.parts()[Symbol.asyncIterator]();
      for (let next = await nextPart(parts); !next.done; next = await nextPart(parts)) {
        const part = next.value;
        if (part.type === 'file' && isKnownField(part.fieldname)) {
          // Python's requests (wes-client, toil) sends every field as a file part named after it.
          if (fields.has(part.fieldname)) throw new BadRequestError(`form field "${part.fieldname}" is given twice`);
          fields.set(part.fieldname, await readField(part.fieldname, part.file));
        } else if (part.type === 'file') {
          if (part.fieldname !== 'workflow_attachment') {
            part.file.resume();
            throw new BadRequestError(`file part "${part.fieldname}" is not allowed; files go in workflow_attachment`);
          }
          try {
            await staging.save(part.filename, part.file);
          } catch (error) {
            // The upload itself broke off (e.g. no closing boundary): the client's error, not ours.
            if (!(error instanceof WesError) && part.file.errored !== null) throw malformed(part.file.errored);
            throw error;
          }
          if (part.file.truncated) throw new BadRequestError(`workflow_attachment "${part.filename}" exceeds ${maxUploadBytes} bytes`);
        } else {
          if (!isKnownField(part.fieldname)) throw new BadRequestError(`unknown form field "${part.fieldname}"`);
          if (fields.has(part.fieldname)) throw new BadRequestError(`form field "${part.fieldname}" is given twice`);
          // busboy cuts a longer value silently; what is left may still parse.
          if (part.valueTruncated) throw new BadRequestError(`form field ${part.fieldname} exceeds ${MAX_FIELD_BYTES / (1024 * 1024)} MiB`);
          fields.set(part.fieldname, String(part.value));
        }
      }
    } catch (error) {
      await staging.discard();
      throw error;
    }
    return { run_id: await services.runs.submit(request.caller, fields, staging) };
  });

  app.get('/runs/:run_id', { schema: { params: RunParams } }, async (request, reply) =>
    reply
      .type('application/json; charset=utf-8')
      .send(Readable.from(await services.runs.getRunLogJson(request.caller, request.params.run_id, baseUrlOf(request, links)), { objectMode: false })),
  );

  app.get('/runs/:run_id/status', { schema: { params: RunParams } }, async (request) =>
    services.runs.getRunState(request.caller, request.params.run_id),
  );

  app.post('/runs/:run_id/cancel', { schema: { params: RunParams } }, async (request) =>
    services.runs.cancel(request.caller, request.params.run_id),
  );

  app.get('/runs/:run_id/outputs/*', { schema: { params: OutputParams } }, async (request, reply) =>
    sendLog(
      request,
      reply,
      await services.runs.getOutputFile(request.caller, request.params.run_id, request.params['*']),
      'application/octet-stream',
    ),
  );

  app.get('/runs/:run_id/workflow-graph', { schema: { params: RunParams } }, async (request) =>
    services.runs.getWorkflowGraph(request.caller, request.params.run_id),
  );

  app.get('/runs/:run_id/log', { schema: { params: RunParams } }, async (request, reply) =>
    sendLog(request, reply, await services.runs.getEngineLogFile(request.caller, request.params.run_id)),
  );
};

/** A form field sent as a file part, read as text up to the size of an ordinary field. */
async function readField(name: string, file: NodeJS.ReadableStream & { truncated?: boolean }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of file) {
    size += (chunk as Buffer).length;
    if (size > MAX_FIELD_BYTES) {
      file.resume();
      throw new BadRequestError(`form field "${name}" exceeds ${MAX_FIELD_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The next form part; a body that is not valid multipart is the client's error, not ours. */
async function nextPart(parts: AsyncIterator<Multipart>): Promise<IteratorResult<Multipart>> {
  try {
    return await parts.next();
  } catch (error) {
    if (error instanceof WesError) throw error;
    const limit = LIMIT_MESSAGES[(error as { code?: string }).code ?? ''];
    if (limit !== undefined) throw new BadRequestError(limit, { cause: error });
    if ((error as { statusCode?: number }).statusCode !== undefined) throw error;
    throw malformed(error as Error);
  }
}

/** @fastify/multipart's limit errors, worded for POST /runs. */
const LIMIT_MESSAGES: Readonly<Record<string, string>> = {
  FST_FILES_LIMIT: `POST /runs takes at most ${MAX_ATTACHMENTS} workflow_attachment files`,
  FST_FIELDS_LIMIT: `POST /runs takes at most ${MAX_FIELDS} form fields`,
  FST_PARTS_LIMIT: `POST /runs takes at most ${MAX_ATTACHMENTS} workflow_attachment files and ${MAX_FIELDS} form fields`,
};

function malformed(error: Error): BadRequestError {
  return new BadRequestError(`malformed multipart/form-data body: ${error.message}`, { cause: error });
}
