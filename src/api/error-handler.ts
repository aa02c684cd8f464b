/**
 * Every error becomes an ErrorResponse {msg, status_code} with a status the spec declares.
 * WesErrors carry their own status and message; Fastify's own client errors (validation,
 * bad content type, body too large, bad multipart) become 400 with their message; anything
 * else is a bug: logged in full, answered 500 "internal error" without details.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError, WesError } from '../errors.js';
import type { AllowedMethods } from './allowed-methods.js';

export interface ErrorBody {
  msg: string;
  status_code: number;
}

export function sendError(reply: FastifyReply, status: number, msg: string): FastifyReply {
  const body: ErrorBody = { msg, status_code: status };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export function installErrorHandlers(app: FastifyInstance, allowed?: AllowedMethods): void {
  app.setErrorHandler((error: FastifyError | WesError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof WesError) {
      if (error instanceof UnauthorizedError) reply.header('WWW-Authenticate', 'Bearer realm="wes"');
      if (error.status >= 500) request.log.error({ err: error }, 'server error');
      return sendError(reply, error.status, error.message);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation !== undefined) {
      const where = fastifyError.validationContext ?? 'request';
      const details = fastifyError.validation.map((v) => `${where}${v.instancePath.replaceAll('/', '.')} ${v.message ?? 'is invalid'}`);
      return sendError(reply, 400, details.join('; '));
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, status === 401 || status === 403 || status === 404 ? status : 400, fastifyError.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 500, 'internal error');
  });
  app.setNotFoundHandler((request, reply) => {
    const methods = allowed?.of(request.url) ?? [];
    if (methods.length > 0) {
      return sendError(reply.header('Allow', methods.join(', ')), 405, `${request.method} is not allowed on ${request.url.split('?')[0]}; allowed: ${methods.join(', ')}`);
    }
    return sendError(reply, 404, `no such endpoint: ${request.method} ${request.url.split('?')[0]}`);
  });
}
