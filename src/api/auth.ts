/**
 * Bearer-key authentication for every endpoint of the protected context. The caller found
 * here is the only identity the services see. With --no-auth every request is the local user.
 * Failed attempts are counted per client address (AuthFailureLimiter): over the limit, a
 * request without a valid key gets 429 instead of 401. 429 is not among the statuses the WES
 * spec declares, so it is sent here directly rather than as a WesError; the body is still an
 * ErrorResponse.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.js';
import type { Caller } from '../wes/run-service.js';
import type { UserService } from '../wes/user-service.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import { sendError } from './error-handler.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function installAuth(app: FastifyInstance, users: UserService, localCaller: Caller | undefined, failures: AuthFailureLimiter | undefined): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (localCaller !== undefined) {
      request.caller = localCaller;
      return;
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    const user = match === null ? undefined : await users.authenticate(match[1]);
    if (user !== undefined) {
      request.caller = { userId: user.id };
      return;
    }
    const retryAfter = failures?.retryAfter(request.ip);
    if (retryAfter !== undefined) {
      reply.header('Retry-After', String(retryAfter));
      return sendError(reply, 429, `too many failed authentication attempts from ${request.ip}: retry in ${retryAfter} s`);
    }
    failures?.recordFailure(request.ip);
    if (header === undefined) throw new UnauthorizedError('missing Authorization header: send "Authorization: Bearer <api key>"');
    if (match === null) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"');
    throw new UnauthorizedError('API key is not valid');
  });
}
