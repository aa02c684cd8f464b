/**
 * CWL DockerRequirement: which container image a CommandLineTool job runs in and how to get it.
 * As a requirement it must be met (no engine → the job fails); as a hint it is used when a
 * container engine is available and ignored otherwise. The image run is dockerImageId, else
 * dockerPull, else a local name derived from the dockerFile / dockerLoad / dockerImport recipe;
 * when missing, it is pulled (dockerPull), built (dockerFile), loaded (dockerLoad) or imported
 * (dockerImport), in that order of preference, as cwltool does.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { isAbsolute, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageSource } from '../../executors/executor.js';
import { JobFailedError } from './job-context.js';
import { findRequirement, isHardRequirement, type RequirementScope } from '../cwl/requirements.js';

export interface ContainerChoice {
  readonly image: string;
  readonly source: ImageSource;
  /** dockerOutputDirectory: where the output directory appears in the container. */
  readonly outputDirectory?: string;
  /** The DockerRequirement is a requirement, not a hint (absolute IWD entrynames need that). */
  readonly required: boolean;
}

// An image reference or id as engines accept them; a leading '-' would be read as an option.
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/;

function checkedName(field: string, value: string): string {
  if (!IMAGE_NAME.test(value) || value.length > 512) throw new JobFailedError(`DockerRequirement: ${field} ${JSON.stringify(value)} is not an image name`);
  return value;
}

/**
 * dockerPull names are Docker Hub references unless they name a registry (as `docker pull`
 * reads them); podman would otherwise ask which registry to search, and fail without a TTY.
 */
function dockerHubReference(name: string): string {
  const first = name.split('/')[0];
  if (name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return name;
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
}

/** A name for an image that only exists through its recipe: the same recipe, the same image. */
function recipeName(kind: string, recipe: string): string {
  return `localhost/wes-cwl-${kind}:${createHash('sha256').update(recipe).digest('hex').slice(0, 20)}`;
}

/**
 * dockerLoad/dockerImport name an archive: resolved against the tool's document, it must be a
 * file inside the run's directory (an attachment); http(s) archives are not fetched.
 */
async function archivePath(field: string, value: string, documentUrl: string, runRoot: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(value, documentUrl);
  } catch {
    throw new JobFailedError(`DockerRequirement: ${field} ${JSON.stringify(value)} is not a path or URL`);
  }
  if (url.protocol !== 'file:') {
    throw new JobFailedError(`DockerRequirement: ${field} ${value}: only archives attached to the run are supported, not ${url.protocol} URLs`);
  }
  const path = await realpath(fileURLToPath(url)).catch(() => undefined);
  const root = await realpath(runRoot).catch(() => runRoot);
  if (path === undefined || !(path === root || path.startsWith(root + sep))) {
    throw new JobFailedError(`DockerRequirement: ${field} ${value} is not a file attached to the run`);
  }
  return path;
}

/**
 * The container a job runs in, or undefined: no DockerRequirement, or only a hint and no
 * engine. `runRoot` bounds the archives dockerLoad/dockerImport may name. Throws
 * JobFailedError when a requirement cannot be met or a field is unusable.
 */
export async function containerFor(
  scope: RequirementScope,
  documentUrl: string,
  engineAvailable: boolean,
  runRoot: string,
): Promise<ContainerChoice | undefined> {
  const docker = findRequirement(scope, 'DockerRequirement');
  if (docker === undefined) return undefined;
  const required = isHardRequirement(scope, 'DockerRequirement');
  if (!engineAvailable) {
    if (required) throw new JobFailedError('DockerRequirement is required but this server has no container engine (podman or docker)');
    return undefined;
  }
  const text = (key: string): string | undefined => (typeof docker[key] === 'string' && docker[key] !== '' ? String(docker[key]) : undefined);
  const pull = text('dockerPull');
  const dockerfile = text('dockerFile');
  const load = text('dockerLoad');
  const imported = text('dockerImport');
  const imageId = text('dockerImageId');
  let source: ImageSource;
  let derived: string;
  if (pull !== undefined) {
    derived = dockerHubReference(checkedName('dockerPull', pull));
    source = { kind: 'pull', reference: derived };
  } else if (dockerfile !== undefined) {
    source = { kind: 'build', dockerfile };
    derived = recipeName('build', dockerfile);
  } else if (load !== undefined) {
    source = { kind: 'load', archive: await archivePath('dockerLoad', load, documentUrl, runRoot) };
    derived = recipeName('load', source.archive);
  } else if (imported !== undefined) {
    source = { kind: 'import', archive: await archivePath('dockerImport', imported, documentUrl, runRoot) };
    derived = recipeName('import', source.archive);
  } else if (imageId !== undefined) {
    source = { kind: 'pull', reference: checkedName('dockerImageId', imageId) };
    derived = imageId;
  } else {
    throw new JobFailedError('DockerRequirement names no image (dockerPull, dockerImageId, dockerFile, dockerLoad or dockerImport)');
  }
  const image = imageId === undefined ? derived : checkedName('dockerImageId', imageId);
  const outdir = text('dockerOutputDirectory');
  if (outdir !== undefined && (!isAbsolute(outdir) || normalize(outdir) === '/')) {
    throw new JobFailedError(`DockerRequirement: dockerOutputDirectory ${outdir} must be an absolute path below /`);
  }
  return { image, source, outputDirectory: outdir === undefined ? undefined : normalize(outdir).replace(/\/+$/, ''), required };
}
