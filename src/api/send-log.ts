/**
 * Serves a log (or output) file, as text/plain by default, honouring a single HTTP byte Range so clients can follow
 * a running job's output by asking for what they have not read yet. A log that does not
 * exist yet (job not started) is served as empty. The file is opened once, by
 * run-files.openRunFile (no planted link, FIFO or file outside the run), and served from
 * that descriptor; a refused file is a 404.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError } from '../errors.js';
import { openRunFile, RunFileRefused, type RunFile } from '../run-files.js';
import { sendError } from './error-handler.js';

const RANGE = /^bytes=(\d*)-(\d*)$/;

export async function sendLog(
  request: FastifyRequest,
  reply: FastifyReply,
  file: RunFile,
  contentType = 'text/plain; charset=utf-8',
): Promise<FastifyReply> {
  const opened = await openRunFile(file).catch((error: unknown) => {
    if (error instanceof RunFileRefused) throw new NotFoundError('file not found in the run');
    throw error;
  });
  const size = opened?.size ?? 0;
  let handed = false;
  try {
    reply.header('Accept-Ranges', 'bytes').type(contentType);
    // Only called for a non-empty range of a file that exists (size > 0).
    const send = (start: number, end: number): FastifyReply => {
      if (opened === undefined) throw new Error('no file to send');
      handed = true;
      return reply.header('Content-Length', end - start + 1).send(opened.handle.createReadStream({ start, end }));
    };
    const range = request.headers.range;
    if (range === undefined) return size === 0 ? reply.code(200).send('') : send(0, size - 1);
    return sendRange(reply, range, size, send);
  } finally {
    if (!handed) await opened?.handle.close();
  }
}

function sendRange(
  reply: FastifyReply,
  range: string,
  size: number,
  send: (start: number, end: number) => FastifyReply,
): FastifyReply {
  const match = RANGE.exec(range.trim());
  if (match === null || (match[1] === '' && match[2] === '')) {
    return sendError(reply, 400, `Range header "${range}" is not a single "bytes=start-end" range`);
  }
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) {
    return reply.code(416).header('Content-Range', `bytes */${size}`).send('');
  }
  reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
  return send(start, end);
}
