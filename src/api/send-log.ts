/**
 * Serves a log (or output) file, as text/plain by default, honouring a single HTTP byte Range so clients can follow
 * a running job's output by asking for what they have not read yet. A log that does not
 * exist yet (job not started) is served as empty.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './error-handler.js';

const RANGE = /^bytes=(\d*)-(\d*)$/;

export async function sendLog(
  request: FastifyRequest,
  reply: FastifyReply,
  filePath: string,
  contentType = 'text/plain; charset=utf-8',
): Promise<FastifyReply> {
  let size = 0;
  try {
    size = (await fsp.stat(filePath)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  reply.header('Accept-Ranges', 'bytes').type(contentType);
  const range = request.headers.range;
  if (range === undefined) {
    if (size === 0) return reply.code(200).send('');
    return reply.code(200).header('Content-Length', size).send(fs.createReadStream(filePath, { start: 0, end: size - 1 }));
  }
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
  return reply
    .code(206)
    .header('Content-Range', `bytes ${start}-${end}/${size}`)
    .header('Content-Length', end - start + 1)
    .send(fs.createReadStream(filePath, { start, end }));
}
