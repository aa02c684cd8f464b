/** The service-info document: what this server accepts, and live run counts from the store. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { countRunsByState } from '../store/queries/runs.js';
import { RUN_STATES } from '../run-state.js';
import { ENGINE_NAME, ENGINE_VERSION, WORKFLOW_TYPE, WORKFLOW_TYPE_VERSIONS } from './run-request.js';
import { ENGINE_PARAMETERS } from '../engine-parameters.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';

export const SERVER_VERSION = '0.1.0';

/** The optional service-info 1.0 fields that describe the deployment rather than the API. */
export interface DeploymentInfo {
  readonly contactUrl?: string;
  readonly documentationUrl?: string;
  readonly environment?: string;
  /** When this store was first served (kept in server_setting). */
  readonly createdAt: string;
  /** When this store was first served by this version. */
  readonly updatedAt: string;
}

export async function serviceInfo(
  db: Kysely<Database>,
  options: { baseUrl: string; noAuth: boolean; jobSandbox?: string; containerEngine?: string; deployment: DeploymentInfo; executor: string },
): Promise<Record<string, unknown>> {
  const deployment = options.deployment;
  const counts = await countRunsByState(db);
  return {
    id: 'org.wes-server',
    name: 'wes-server',
    type: { group: 'org.ga4gh', artifact: 'wes', version: '1.1.0' },
    description: 'GA4GH Workflow Execution Service running CWL workflows with a native engine',
    organization: { name: 'wes-server', url: options.baseUrl },
    version: SERVER_VERSION,
    contactUrl: deployment.contactUrl ?? `${options.baseUrl}/`,
    documentationUrl: deployment.documentationUrl ?? `${options.baseUrl}/`,
    createdAt: deployment.createdAt,
    updatedAt: deployment.updatedAt,
    environment: deployment.environment ?? 'prod',
    workflow_type_versions: { [WORKFLOW_TYPE]: { workflow_type_version: [...WORKFLOW_TYPE_VERSIONS] } },
    supported_wes_versions: ['1.1.0'],
    // Inputs: attachments and allowed directories (file), downloaded URLs (http, https).
    supported_filesystem_protocols: ['file', 'http', 'https'],
    workflow_engine_versions: { [ENGINE_NAME]: { workflow_engine_version: [ENGINE_VERSION] } },
    default_workflow_engine_parameters: ENGINE_PARAMETERS.map(({ name, type, default_value }) => ({ name, type, default_value })),
    system_state_counts: Object.fromEntries(RUN_STATES.map((state) => [state, counts.get(state) ?? 0])),
    auth_instructions_url: `${options.baseUrl}/ga4gh/wes/v1/auth-instructions`,
    tags: {
      auth: options.noAuth ? 'none' : 'bearer',
      executor: options.executor,
      default_page_size: String(DEFAULT_PAGE_SIZE),
      max_page_size: String(MAX_PAGE_SIZE),
      // bwrap | none (operator's choice) | none-single-user (bubblewrap missing)
      ...(options.jobSandbox === undefined ? {} : { job_sandbox: options.jobSandbox }),
      // Where DockerRequirement tools run: the engine and its version, or "none".
      container_engine: options.containerEngine ?? 'none',
    },
  };
}
