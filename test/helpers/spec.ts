/**
 * Validates response bodies against the WES 1.1.0 OpenAPI document in vendor/wes-spec, read
 * with OpenAPI 3.0 semantics: `nullable`, and $ref siblings ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const SPEC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../vendor/wes-spec');
const BASE = 'https://wes-server.test/spec/';

function openApi30(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openApi30);
  if (typeof node !== 'object' || node === null) return node;
  const object = node as Record<string, unknown>;
  if (typeof object.$ref === 'string') return { $ref: object.$ref };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === 'example' || key === 'deprecated') continue;
    out[key] = openApi30(value);
  }
  if (out.nullable === true && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    delete out.nullable;
  }
  return out;
}

function load(file: string): Record<string, unknown> {
  const doc = YAML.parse(fs.readFileSync(path.join(SPEC_DIR, file), 'utf8')) as Record<string, unknown>;
  return { $id: BASE + file, ...(openApi30({ components: doc.components }) as Record<string, unknown>) };
}

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
ajv.addFormat('int32', true).addFormat('int64', true);
ajv.addSchema(load('service-info.yaml'));
ajv.addSchema(load('wes-1.1.0.openapi.yaml'));

export type SpecSchema =
  | 'ServiceInfo'
  | 'RunId'
  | 'RunStatus'
  | 'RunLog'
  | 'RunListResponse'
  | 'TaskListResponse'
  | 'TaskLog'
  | 'ErrorResponse';

export function assertMatchesSpec(schema: SpecSchema, body: unknown): void {
  const validate = ajv.getSchema(`${BASE}wes-1.1.0.openapi.yaml#/components/schemas/${schema}`);
  assert.ok(validate, `schema ${schema} not found in the spec`);
  const valid = validate(body);
  assert.ok(valid, `${schema} does not match the spec: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
}

/** An error response: the status, and an ErrorResponse body whose status_code repeats it. */
export function assertErrorResponse(response: { statusCode: number; json(): unknown }, status: number, msgPattern?: RegExp): void {
  const body = response.json() as { msg?: string; status_code?: number };
  assert.equal(response.statusCode, status, `expected ${status}, got ${response.statusCode}: ${JSON.stringify(body)}`);
  assertMatchesSpec('ErrorResponse', body);
  assert.equal(body.status_code, status);
  assert.equal(typeof body.msg, 'string');
  if (msgPattern !== undefined) assert.match(body.msg ?? '', msgPattern);
}
