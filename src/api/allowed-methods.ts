/**
 * Which methods a path has, for `405 Method Not Allowed` with an `Allow` header (instead of a
 * 404 for a path that exists) and for plain OPTIONS requests. Routes are recorded as they are
 * added (onRoute), so the answer always matches the routes really registered.
 */
import type { FastifyInstance } from 'fastify';

export class AllowedMethods {
  readonly #routes: { pattern: RegExp; method: string }[] = [];

  /** Call before any route is registered: child plugins inherit the hook. */
  record(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        if (method !== 'OPTIONS') this.#routes.push({ pattern: patternOf(route.url ?? route.path), method });
      }
    });
  }

  /** The methods routed for this path (query ignored), OPTIONS included when there are any. */
  of(url: string): string[] {
    const path = url.split('?')[0];
    const methods = new Set(this.#routes.filter((r) => r.pattern.test(path)).map((r) => r.method));
    return methods.size === 0 ? [] : [...methods, 'OPTIONS'];
  }
}

function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}
