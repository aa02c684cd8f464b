/**
 * Builds the HTTP application (never listens): the dashboard at /, the public service-info
 * context and the authenticated context of runs and tasks, both under /ga4gh/wes/v1.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../wes/services.js';
import type { Caller } from '../wes/run-service.js';
import { installAuth } from './auth.js';
import { AuthFailureLimiter, type AuthFailureLimits } from './auth-failures.js';
import type { LinkOptions } from './base-url.js';
import { installNoStore, installSecurityHeaders } from './security-headers.js';
import { AllowedMethods } from './allowed-methods.js';
import { installCors } from './cors.js';
import { installErrorHandlers, sendError } from './error-handler.js';
import { runRoutes } from './routes/runs.js';
import { serviceInfoRoutes } from './routes/service-info.js';
import { taskRoutes } from './routes/tasks.js';
import { stringifyJson } from '../exact-json.js';
import { dashboardRoutes } from './routes/dashboard.js';
import type { ServerMetrics } from '../metrics.js';

export const API_PREFIX = '/ga4gh/wes/v1';
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

export interface AppOptions {
  readonly services: Services;
  /** Set for a --no-auth server: every request acts as this caller. */
  readonly localCaller?: Caller;
  readonly publicUrl?: string;
  /** Host headers accepted in absolute links when publicUrl is unset (see base-url.ts). */
  readonly trustedHosts?: readonly string[];
  /** Failed authentications per client address before 429s; absent: no limit (serve always sets it). */
  readonly authFailures?: AuthFailureLimits;
  readonly maxUploadBytes?: number;
  readonly logger?: FastifyServerOptions['logger'];
  /** Origins allowed to call the API from a browser (WES_CORS_ORIGINS); empty: no CORS. */
  readonly corsOrigins?: readonly string[];
  /** When given, request durations are recorded and GET /metrics serves them with the store's gauges. */
  readonly metrics?: ServerMetrics;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // Task ids of nested steps are longer than Fastify's default limit of 100 characters.
    routerOptions: { maxParamLength: 1000 },
    // Errors raised before routing (a bad URL encoding, an over-long parameter) get the same body as the rest.
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, 400, error.message);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Run requests and outputs may hold integers beyond 2^53 (bigint): written digit for digit.
  app.setReplySerializer((payload) => stringifyJson(payload));
  const allowed = new AllowedMethods();
  allowed.record(app);
  installCors(app, options.corsOrigins ?? []);
  installErrorHandlers(app, allowed);
  installSecurityHeaders(app);
  // OPTIONS (not a CORS preflight, which installCors answers): the methods of the path.
  app.options('*', async (request, reply) => {
    const methods = allowed.of(request.url);
    if (methods.length === 0) return sendError(reply, 404, `no such endpoint: ${request.url.split('?')[0]}`);
    return reply.code(204).header('Allow', methods.join(', ')).send();
  });
  const { services, metrics } = options;
  const links: LinkOptions = { publicUrl: options.publicUrl, trustedHosts: options.trustedHosts ?? [] };
  const failures = options.authFailures === undefined ? undefined : new AuthFailureLimiter(options.authFailures);
  if (metrics !== undefined) {
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: run and task ids would make a series per run.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.requestDuration.observe({ method: request.method, route, status: `${Math.floor(reply.statusCode / 100)}xx` }, reply.elapsedTime / 1000);
    });
    // Aggregates only (no user's data): public like service-info, for a Prometheus scraper.
    app.get('/metrics', async (_request, reply) => {
      const text = [await services.storeGauges(), metrics.requestDuration.render(), metrics.jobDuration.render(), metrics.renderEventLoopDelay()].join('\n');
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${text}\n`);
    });
  }
  await app.register(dashboardRoutes);
  await app.register(serviceInfoRoutes, { prefix: API_PREFIX, services, links });
  await app.register(
    async (protectedApp) => {
      installNoStore(protectedApp);
      installAuth(protectedApp, services.users, options.localCaller, failures);
      await protectedApp.register(runRoutes, {
        services,
        links,
        maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
      });
      await protectedApp.register(taskRoutes, { services, links });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
