/**
 * Bearer-key authentication for every endpoint of the protected context. The caller found
 * here is the only identity the services see. With --no-auth every request is the local user.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.js';
import type { Caller } from '../wes/run-service.js';
import type { UserService } from '../wes/user-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function installAuth(app: FastifyInstance, users: UserService, localCaller: Caller | undefined): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (localCaller !== undefined) {
      request.caller = localCaller;
      return;
    }
    const header = request.headers.authorization;
    if (header === undefined) throw new UnauthorizedError('missing Authorization header: send "Authorization: Bearer <api key>"');
    const match = BEARER.exec(header);
    if (match === null) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"');
    const user = await users.authenticate(match[1]);
    if (user === undefined) throw new UnauthorizedError('API key is not valid');
    request.caller = { userId: user.id };
  });
}
