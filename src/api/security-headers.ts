/**
 * Headers every response carries. The API serves JSON and, from job logs and output files,
 * bytes a user's job wrote: `nosniff` keeps a browser from reading those as HTML or script, and
 * the Content-Security-Policy sandboxes anything that is opened anyway (no scripts, no
 * requests, no framing). Bodies behind authentication are never stored by caches.
 */
import type { FastifyInstance } from 'fastify';

const CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return payload;
  });
}

/** For the authenticated context: its answers are one user's data. */
export function installNoStore(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    return payload;
  });
}
