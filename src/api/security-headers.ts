/**
 * Headers every response carries. The API serves JSON and, from job logs and output files,
 * bytes a user's job wrote: `nosniff` keeps a browser from reading those as HTML or script, and
 * the Content-Security-Policy sandboxes anything that is opened anyway (no scripts, no
 * requests, no framing). Bodies behind authentication are never stored by caches.
 */
import type { FastifyInstance } from 'fastify';

const CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/** The dashboard's own pages and modules: scripts and styles from this origin only, nothing inline. */
export const DASHBOARD_CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    // A route that sets its own policy (the dashboard) keeps it; everything else is sandboxed.
    if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
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
