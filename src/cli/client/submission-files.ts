/**
 * What `wes submit` uploads: the workflow and every local file it uses, found by reading the
 * documents rather than listed by hand. Followed: `run:` references, `$import` (parsed in
 * turn, which covers SchemaDefRequirement type imports) and `$include` (text), `$schemas`, and
 * File/Directory literals (workflow defaults, and the input object's values with their
 * `secondaryFiles`). URLs with a scheme other than file: are left to the server.
 *
 * All files are attached relative to their deepest common directory, so sub-folders survive;
 * the input object's relative locations are rewritten against that root, which is where the
 * server resolves them (the run's attachments directory).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export interface Submission {
  /** Absolute directory every attachment is named relative to. */
  readonly root: string;
  /** The workflow's attachment name (the WES workflow_url). */
  readonly workflowUrl: string;
  /** Absolute paths of every file to attach (the workflow included). */
  readonly files: readonly string[];
  /** The input object, its local File/Directory locations relative to `root`. */
  readonly params: Record<string, unknown>;
  /** The workflow's cwlVersion, when it states one. */
  readonly cwlVersion?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export async function collectSubmission(workflowFile: string, inputsFile?: string): Promise<Submission> {
  const files = new Set<string>();
  const workflow = path.resolve(workflowFile);
  const document = await visitDocument(workflow, files);
  let params: Json = {};
  const inputFiles = new Set<string>();
  if (inputsFile !== undefined) {
    params = parseDocument(await readText(path.resolve(inputsFile)), inputsFile);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new Error(`${inputsFile}: the input object must be a map`);
    await visitFileLiterals(params, path.dirname(path.resolve(inputsFile)), inputFiles);
  }
  for (const file of inputFiles) files.add(file);
  const root = commonDirectory([...files]);
  const rewritten = inputsFile === undefined ? {} : relocate(params, path.dirname(path.resolve(inputsFile)), root);
  const version = typeof document === 'object' && document !== null && !Array.isArray(document) ? document.cwlVersion : undefined;
  return {
    root,
    workflowUrl: attachmentName(root, workflow),
    files: [...files].sort(),
    params: rewritten as Record<string, unknown>,
    cwlVersion: typeof version === 'string' ? version : undefined,
  };
}

export function attachmentName(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function parseDocument(text: string, name: string): Json {
  try {
    return YAML.parse(text) as Json;
  } catch (error) {
    throw new Error(`${name} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Adds a CWL document and everything it references; returns the parsed document. */
async function visitDocument(file: string, files: Set<string>): Promise<Json> {
  if (files.has(file)) return null;
  files.add(file);
  const document = parseDocument(await readText(file), file);
  await visitReferences(document, path.dirname(file), files);
  return document;
}

async function visitReferences(node: Json, dir: string, files: Set<string>): Promise<void> {
  if (Array.isArray(node)) {
    for (const item of node) await visitReferences(item, dir, files);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const local = (ref: Json) => (typeof ref === 'string' ? localPath(ref, dir) : undefined);
  const imported = local(node.$import);
  if (imported !== undefined) await visitDocument(imported, files);
  const included = local(node.$include);
  if (included !== undefined) files.add(included);
  const run = local(node.run);
  if (run !== undefined) await visitDocument(run, files);
  if (Array.isArray(node.$schemas)) for (const schema of node.$schemas) addIfLocal(local(schema), files);
  if (node.class === 'File' || node.class === 'Directory') await addFileLiteral(node, dir, files);
  for (const [key, value] of Object.entries(node)) {
    if (key !== '$import' && key !== '$include' && key !== '$schemas') await visitReferences(value, dir, files);
  }
}

function addIfLocal(file: string | undefined, files: Set<string>): void {
  if (file !== undefined) files.add(file);
}

/** The local file a reference names (fragment dropped), or undefined for URLs and pure fragments. */
function localPath(ref: string, dir: string): string | undefined {
  const [withoutFragment] = ref.split('#');
  if (withoutFragment === '') return undefined;
  if (withoutFragment.startsWith('file://')) return fileURLToPath(withoutFragment);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(withoutFragment)) return undefined;
  return path.resolve(dir, decodeURIComponent(withoutFragment));
}

async function visitFileLiterals(node: Json, dir: string, files: Set<string>): Promise<void> {
  if (Array.isArray(node)) {
    for (const item of node) await visitFileLiterals(item, dir, files);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  if (node.class === 'File' || node.class === 'Directory') await addFileLiteral(node, dir, files);
  for (const value of Object.values(node)) await visitFileLiterals(value, dir, files);
}

/** A File (and its secondaryFiles, visited by the caller's walk) or a Directory's whole tree. */
async function addFileLiteral(node: { [key: string]: Json }, dir: string, files: Set<string>): Promise<void> {
  const ref = typeof node.location === 'string' ? node.location : typeof node.path === 'string' ? node.path : undefined;
  const file = ref === undefined ? undefined : localPath(ref, dir);
  if (file === undefined) return;
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat === undefined) throw new Error(`input ${ref} (${file}) does not exist`);
  if (stat.isDirectory()) {
    for (const entry of await fs.readdir(file, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.add(path.join(entry.parentPath, entry.name));
    }
  } else {
    files.add(file);
  }
}

/** The input object with local locations made relative to `root` (`path` folded into `location`). */
function relocate(node: Json, dir: string, root: string): Json {
  if (Array.isArray(node)) return node.map((item) => relocate(item, dir, root));
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) out[key] = relocate(value, dir, root);
  if (node.class !== 'File' && node.class !== 'Directory') return out;
  const ref = typeof node.location === 'string' ? node.location : typeof node.path === 'string' ? node.path : undefined;
  const file = ref === undefined ? undefined : localPath(ref, dir);
  if (file === undefined) return out;
  delete out.path;
  out.location = attachmentName(root, file);
  return out;
}

function commonDirectory(files: readonly string[]): string {
  let common = path.dirname(files[0]);
  for (const file of files) {
    while (file !== common && !file.startsWith(common.endsWith(path.sep) ? common : common + path.sep)) common = path.dirname(common);
  }
  return common;
}
