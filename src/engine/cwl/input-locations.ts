/**
 * Where a run's input files may come from, checked at submission before anything is stored:
 * every File/Directory `location`/`path` in the input object, and every default of the
 * workflow's documents, must be an attachment of the run (a relative name that exists), a
 * file under an operator-allowed input directory, or an http(s) URL whose host resolves to
 * addresses the policy allows. Anything else is an InvalidWorkflowError naming the input and
 * the location as the user wrote it, never a server path.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidWorkflowError } from '../../errors.js';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { Process } from './model.js';
import { resolveFileValues } from '../values/file-values.js';
import { checkRemoteHost, RemoteInputError } from './remote-inputs.js';
import { isFileLike, isObject, type FileLike } from '../values/value-types.js';

export interface InputPolicy {
  /** Host directories whose files users may name as inputs (absolute paths). */
  readonly allowedInputDirs: readonly string[];
  /** Largest http(s) input downloaded for a run, in bytes. */
  readonly maxInputBytes: number;
  /** http(s) inputs may name loopback, link-local and private addresses. */
  readonly allowPrivateInputUrls: boolean;
}

/** Nothing but the run's own attachments, and public http(s) URLs. */
export const CLOSED_INPUT_POLICY: InputPolicy = { allowedInputDirs: [], maxInputBytes: 10 * 1024 ** 3, allowPrivateInputUrls: false };

interface Origin {
  /** How the problem names the value ("inputs.x", "default of input x"). */
  readonly where: string;
  readonly baseUrl: string;
  /** Given by the user in the input object: a relative name must be an existing attachment. */
  readonly mustExist: boolean;
}

/** What one submission's checks share: directories resolved once, each host resolved once. */
interface Scope {
  readonly attachments: string;
  /** The attachments directory as the documents' URLs name it (before symlinks are resolved). */
  readonly attachmentsAsGiven: string;
  readonly allowedDirs: readonly string[];
  readonly allowPrivate: boolean;
  readonly hosts: Map<string, Promise<unknown>>;
}

export async function checkInputLocations(process: Process, params: CwlObject, attachmentsDir: string, policy: InputPolicy): Promise<void> {
  const attachments = await realpath(resolve(attachmentsDir));
  const allowedDirs = (await Promise.all(policy.allowedInputDirs.map((dir) => realpath(dir).catch(() => undefined)))).filter((d) => d !== undefined);
  const scope: Scope = { attachments, attachmentsAsGiven: resolve(attachmentsDir), allowedDirs, allowPrivate: policy.allowPrivateInputUrls, hosts: new Map() };
  const paramsBase = pathToFileURL(`${attachments}/`).href;
  const checks: Promise<string | undefined>[] = [];
  const visit = (value: CwlValue | undefined, origin: Origin): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v, origin);
    } else if (isFileLike(value)) {
      checks.push(checkOne(value, origin, scope));
      visit(value.secondaryFiles, origin);
      visit(value.listing, origin);
    } else if (isObject(value)) {
      for (const v of Object.values(value)) visit(v, origin);
    }
  };
  for (const input of process.inputs) {
    visit(params[input.id] ?? undefined, { where: `inputs.${input.id}`, baseUrl: paramsBase, mustExist: true });
  }
  forEachDefault(process, (value, where, baseUrl) => visit(value, { where, baseUrl, mustExist: false }));
  const problems = (await Promise.all(checks)).filter((p) => p !== undefined);
  if (problems.length > 0) throw new InvalidWorkflowError(problems);
}

/** Every `default` of the process, its steps' inputs and the processes they run. */
function forEachDefault(process: Process, visit: (value: CwlValue, where: string, baseUrl: string) => void): void {
  for (const input of process.inputs) {
    if (input.default !== undefined) visit(input.default, `default of input ${input.id}`, process.documentUrl);
  }
  if (process.class !== 'Workflow') return;
  for (const step of process.steps) {
    for (const input of step.in) {
      if (input.default !== undefined) visit(input.default, `default of step ${step.id} input ${input.id}`, step.run.documentUrl);
    }
    forEachDefault(step.run, visit);
  }
}

async function checkOne(value: FileLike, origin: Origin, scope: Scope): Promise<string | undefined> {
  const written = typeof value.location === 'string' ? value.location : typeof value.path === 'string' ? value.path : undefined;
  if (written === undefined) return undefined; // a literal (contents or listing only)
  const refuse = (why: string) => `${origin.where}: ${value.class} ${JSON.stringify(written)} ${why}`;
  let url: URL;
  try {
    const resolved = resolveFileValues({ class: value.class, ...(typeof value.location === 'string' ? { location: value.location } : { path: written }) }, origin.baseUrl);
    url = new URL(String((resolved as CwlObject).location));
  } catch {
    return refuse('is not a valid location');
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (value.class === 'Directory') return refuse('is not supported: http(s) inputs must be Files');
    try {
      let host = scope.hosts.get(url.hostname);
      if (host === undefined) scope.hosts.set(url.hostname, (host = checkRemoteHost(url, scope.allowPrivate)));
      await host;
      return undefined;
    } catch (error) {
      if (error instanceof RemoteInputError) return refuse(`is refused: ${error.message}`);
      throw error;
    }
  }
  if (url.protocol !== 'file:') return refuse(`is refused: only attachments, allowed directories and http(s) URLs can be inputs`);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return refuse('is not a valid location');
  }
  const real = await realpath(path).catch(() => undefined);
  const isRelative = !/^[a-z][a-z0-9+.-]*:/i.test(written) && !isAbsolute(written);
  // A missing file is judged by its name (also against the unresolved directory the documents were read from).
  const inAttachments = real !== undefined ? isInside(real, scope.attachments) : isInside(path, scope.attachments) || isInside(path, scope.attachmentsAsGiven);
  if (inAttachments) {
    if (real === undefined && origin.mustExist) return refuse('names no attachment of the run');
    if (real !== undefined && origin.mustExist && !(await isKind(real, value.class))) return refuse(`names an attachment that is not a ${value.class}`);
    return undefined;
  }
  if (isRelative) return refuse('names no attachment of the run');
  for (const dir of scope.allowedDirs) {
    if (isInside(real ?? path, dir)) {
      return real === undefined && origin.mustExist ? refuse('does not exist') : undefined;
    }
  }
  return refuse('is not under a directory the server allows inputs from (WES_ALLOWED_INPUT_DIRS)');
}

async function isKind(path: string, kind: 'File' | 'Directory'): Promise<boolean> {
  const info = await stat(path);
  return kind === 'File' ? info.isFile() : info.isDirectory();
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
