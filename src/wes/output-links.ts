/**
 * RunLog.outputs as clients see them: each File/Directory that lives in the run directory gets
 * a `location` URL served (to the owner) by GET /runs/{id}/outputs/{path}; the server's own
 * file-system paths are not shown.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Links one output value (any JSON value, Files and Directories anywhere within it). */
export function outputLinker(runDir: string, runUrl: string): (value: unknown) => unknown {
  const resolved = path.resolve(runDir);
  return (value) => link(value as Json, resolved, runUrl);
}

function link(value: Json, runDir: string, runUrl: string): Json {
  if (Array.isArray(value)) return value.map((v) => link(v, runDir, runUrl));
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [key, v] of Object.entries(value)) out[key] = link(v, runDir, runUrl);
  if (value.class !== 'File' && value.class !== 'Directory') return out;
  const local = localPathOf(value);
  if (local === undefined) return out;
  const relative = path.relative(runDir, local);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return out;
  // Server paths are not the client's business; the URL replaces them.
  delete out.path;
  delete out.dirname;
  out.location = `${runUrl}/outputs/${relative.split(path.sep).map(encodeURIComponent).join('/')}`;
  return out;
}

function localPathOf(value: { [key: string]: Json }): string | undefined {
  if (typeof value.path === 'string') return path.resolve(value.path);
  if (typeof value.location === 'string' && value.location.startsWith('file://')) return fileURLToPath(value.location);
  if (typeof value.location === 'string' && path.isAbsolute(value.location)) return value.location;
  return undefined;
}
