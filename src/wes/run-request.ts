/**
 * Reading a RunRequest from the multipart form of POST /runs: every field is checked and a
 * problem is a 400 naming the field.
 */
import { BadRequestError } from '../errors.js';
import type { RunRequest } from './wes-types.js';
import { parseJson } from '../exact-json.js';

export const WORKFLOW_TYPE = 'CWL';
export const WORKFLOW_TYPE_VERSIONS = ['v1.0', 'v1.1', 'v1.2'] as const;
export const ENGINE_NAME = 'wes-server-cwl';
export const ENGINE_VERSION = '0.1.0';
/**
 * Deepest nesting of a JSON field (workflow_params, tags, …). Every later walk of an input
 * object is recursive, so a deeper one would overflow the stack (a 500) instead of a 400.
 */
export const MAX_FIELD_DEPTH = 128;

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
  if (engine !== undefined && engine !== ENGINE_NAME) {
    throw new BadRequestError(`workflow_engine "${engine}" is not supported; this server's engine is ${ENGINE_NAME}`);
  }
  if (engineVersion !== undefined) {
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
    if (Object.keys(engineParameters).length > 0) {
      throw new BadRequestError(
        `workflow_engine_parameters: unknown parameter "${Object.keys(engineParameters)[0]}"; this engine takes none`,
      );
    }
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
