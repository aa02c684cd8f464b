/**
 * Reading a RunRequest from the multipart form of POST /runs: every field is checked and a
 * problem is a 400 naming the field.
 */
import { BadRequestError } from '../errors.js';
import { parseEngineParameters } from '../engine-parameters.js';
import type { RunRequest } from './wes-types.js';
import { parseJson } from '../exact-json.js';
import type { RunFilter } from '../store/queries/runs.js';
import { RUN_STATES, type RunState } from '../run-state.js';

export const WORKFLOW_TYPE = 'CWL';
export const WORKFLOW_TYPE_VERSIONS = ['v1.0', 'v1.1', 'v1.2'] as const;
export const ENGINE_NAME = 'wes-server-cwl';
export const ENGINE_VERSION = '0.1.0';
/**
 * Deepest nesting of a JSON field (workflow_params, tags, …). Every later walk of an input
 * object is recursive, so a deeper one would overflow the stack (a 500) instead of a 400.
 */
export const MAX_FIELD_DEPTH = 128;
/**
 * workflow_engine values clients of other servers send for CWL (sapporo and Toil's WES
 * client name their engines); accepted as this engine, their versions are not checked.
 */
const ENGINE_ALIASES = new Set(['', 'cwltool', 'toil']);

const KNOWN_FIELDS = new Set([
  'workflow_params',
  'workflow_type',
  'workflow_type_version',
  'tags',
  'workflow_engine',
  'workflow_engine_version',
  'workflow_engine_parameters',
  'workflow_url',
]);

export function isKnownField(name: string): boolean {
  return KNOWN_FIELDS.has(name);
}

export function parseRunRequest(fields: ReadonlyMap<string, string>): RunRequest {
  const workflowType = required(fields, 'workflow_type');
  if (workflowType !== WORKFLOW_TYPE) {
    throw new BadRequestError(`workflow_type "${workflowType}" is not supported; this server runs ${WORKFLOW_TYPE}`);
  }
  const version = required(fields, 'workflow_type_version');
  if (!(WORKFLOW_TYPE_VERSIONS as readonly string[]).includes(version)) {
    throw new BadRequestError(
      `workflow_type_version "${version}" is not supported; supported: ${WORKFLOW_TYPE_VERSIONS.join(', ')}`,
    );
  }
  const engine = fields.get('workflow_engine');
  const engineVersion = fields.get('workflow_engine_version');
  const isAlias = engine !== undefined && ENGINE_ALIASES.has(engine.trim());
  if (engine !== undefined && engine !== ENGINE_NAME && !isAlias) {
    throw new BadRequestError(
      `workflow_engine "${engine}" is not supported; this server's engine is ${ENGINE_NAME} (cwltool and toil are accepted as aliases)`,
    );
  }
  if (engineVersion !== undefined && engineVersion !== '' && !isAlias) {
    if (engine === undefined) throw new BadRequestError('workflow_engine_version is given without workflow_engine');
    if (engineVersion !== ENGINE_VERSION) {
      throw new BadRequestError(`workflow_engine_version "${engineVersion}" is not supported; supported: ${ENGINE_VERSION}`);
    }
  }
  const request: RunRequest = {
    workflow_params: jsonObject(fields, 'workflow_params') ?? {},
    workflow_type: workflowType,
    workflow_type_version: version,
    tags: stringMap(fields, 'tags') ?? {},
    workflow_url: required(fields, 'workflow_url'),
  };
  const engineParameters = stringMap(fields, 'workflow_engine_parameters');
  if (engineParameters !== undefined) {
    parseEngineParameters(engineParameters);
    request.workflow_engine_parameters = engineParameters;
  }
  if (engine !== undefined) request.workflow_engine = engine;
  if (engineVersion !== undefined) request.workflow_engine_version = engineVersion;
  return request;
}

function required(fields: ReadonlyMap<string, string>, name: string): string {
  const value = fields.get(name);
  if (value === undefined || value.trim() === '') throw new BadRequestError(`${name} is required`);
  return value;
}

function jsonObject(fields: ReadonlyMap<string, string>, name: string): Record<string, unknown> | undefined {
  const text = fields.get(name);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    throw new BadRequestError(`${name} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(`${name} must be a JSON object`);
  }
  if (nestingExceeds(value, MAX_FIELD_DEPTH)) throw new BadRequestError(`${name}: nesting exceeds ${MAX_FIELD_DEPTH} levels`);
  return value as Record<string, unknown>;
}

/** Whether objects and arrays nest deeper than `limit` in `value` (iterative: no recursion on hostile input). */
function nestingExceeds(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

function stringMap(fields: ReadonlyMap<string, string>, name: string): Record<string, string> | undefined {
  const value = jsonObject(fields, name);
  if (value === undefined) return undefined;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new BadRequestError(`${name}.${key} must be a string`);
  }
  return value as Record<string, string>;
}

/**
 * ListRuns' `state` and `tags` query parameters as a store filter: a WES state, and tags as
 * `name=value` (or `name:value`, or one JSON object of them), all of which must match.
 */
export function parseRunFilter(state: string | undefined, tags: readonly string[] | undefined): RunFilter {
  const filter: { state?: RunState; tags?: { name: string; value: string }[] } = {};
  if (state !== undefined && state !== '') {
    if (!(RUN_STATES as readonly string[]).includes(state)) {
      throw new BadRequestError(`state "${state}" is not a WES state; one of ${RUN_STATES.join(', ')}`);
    }
    filter.state = state as RunState;
  }
  const pairs = (tags ?? []).filter((t) => t !== '').flatMap(parseTagFilter);
  if (pairs.length > 0) filter.tags = pairs;
  return filter;
}

function parseTagFilter(text: string): { name: string; value: string }[] {
  if (text.trimStart().startsWith('{')) {
    const object = jsonObject(new Map([['tags', text]]), 'tags') ?? {};
    return Object.entries(object).map(([name, value]) => {
      if (typeof value !== 'string') throw new BadRequestError(`tags.${name} must be a string`);
      return { name, value };
    });
  }
  const at = text.includes('=') ? text.indexOf('=') : text.indexOf(':');
  if (at <= 0) throw new BadRequestError(`tags "${text}" must be name=value (or name:value)`);
  return [{ name: text.slice(0, at), value: text.slice(at + 1) }];
}
