/**
 * The web dashboard: the plain ES modules, stylesheet and page in src/web, served as they are
 * (no build step) at / and /web/<file>. The files are read once at start; only names in that
 * set are served, so no request path ever reaches the file system. Public: the page holds no
 * data, and the API calls it makes carry the key the user signs in with.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { sendError } from '../error-handler.js';
import { DASHBOARD_CONTENT_SECURITY_POLICY } from '../security-headers.js';

const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const entry of fs.readdirSync(WEB_DIR, { recursive: true, withFileTypes: true })) {
    const type = TYPES[path.extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const full = path.join(entry.parentPath, entry.name);
    assets.set(path.relative(WEB_DIR, full).split(path.sep).join('/'), { body: fs.readFileSync(full), type });
  }
  return assets;
}

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const assets = loadAssets();
  const index = assets.get('index.html');
  app.get('/', async (_request, reply) => {
    if (index === undefined) return sendError(reply, 404, 'the dashboard is not installed');
    return reply.type(index.type).header('Cache-Control', 'no-cache').header('Content-Security-Policy', DASHBOARD_CONTENT_SECURITY_POLICY).send(index.body);
  });
  app.get('/web/*', async (request, reply) => {
    const asset = assets.get((request.params as { '*': string })['*']);
    if (asset === undefined) return sendError(reply, 404, `no such file: ${request.url}`);
    return reply.type(asset.type).header('Cache-Control', 'no-cache').header('Content-Security-Policy', DASHBOARD_CONTENT_SECURITY_POLICY).send(asset.body);
  });
};
