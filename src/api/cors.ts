/**
 * Cross-origin access for browser clients on other origins (a dashboard served elsewhere).
 * Off unless WES_CORS_ORIGINS lists origins (or `*`). Requests carry the API key in the
 * Authorization header, never in cookies, so no credentials mode is offered: a listed origin
 * may send the key it holds, nothing the browser would attach by itself.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Range';
const EXPOSED_HEADERS = 'Content-Range, Accept-Ranges, Content-Length, WWW-Authenticate, Allow';

export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const anyOrigin = origins.includes('*');
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !(anyOrigin || origins.includes(origin))) return;
    reply.header('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
    if (!anyOrigin) reply.header('Vary', 'Origin');
    reply.header('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      // The preflight: answered here, before routing and authentication (browsers send no key with it).
      return reply
        .code(204)
        .header('Access-Control-Allow-Methods', ALLOWED_METHODS)
        .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
        .header('Access-Control-Max-Age', '600')
        .send();
    }
  });
}
