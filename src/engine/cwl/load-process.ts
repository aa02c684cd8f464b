/**
 * Entry point of the CWL layer: loads the process a document URL names (a plain document, or
 * one object of a packed `$graph`, `#main` by default), with every referenced document
 * fetched under the URL policy, and checks the links between steps.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage, InvalidWorkflowError } from '../../errors.js';
import { assertAllowed, loadDocuments, type UrlPolicy } from './load-documents.js';
import type { FormatGraph, Process, Workflow } from './model.js';
import { parseOntology } from './format-ontology.js';
import { collectNamedTypes, normalizeProcess } from './normalize-process.js';

export interface LoadOptions {
  /** A local path (relative to baseDir) or a URL. */
  readonly documentUrl: string;
  /** file: URLs inside this directory are always allowed. */
  readonly baseDir: string;
  /** Decides every other URL (http(s), files elsewhere); denied when absent. */
  readonly allowUrl?: UrlPolicy;
}

export async function loadProcess(options: LoadOptions): Promise<Process> {
  const baseDir = resolve(options.baseDir);
  const allow: UrlPolicy = (url) =>
    (url.protocol === 'file:' && isInside(fileURLToPath(url), baseDir)) || (options.allowUrl?.(url) ?? false);
  const url = await toUrl(options.documentUrl, baseDir);
  const documents = new Map<string, Promise<Record<string, unknown>[]>>();
  const namedTypes = new Map<string, unknown>();
  const processes = new Map<string, Promise<Process>>();
  const ontologies = new Map<string, Promise<FormatGraph>>();
  const ontologyOf = (docUrl: string, docs: Record<string, unknown>[]): Promise<FormatGraph> => {
    let graph = ontologies.get(docUrl);
    if (graph === undefined) {
      const schemas = docs.flatMap((d) => (Array.isArray(d.$schemas) ? d.$schemas.map(String) : []));
      graph = loadOntology(schemas.map((s) => new URL(s, docUrl).href), allow);
      ontologies.set(docUrl, graph);
    }
    return graph;
  };

  const documentAt = (docUrl: string): Promise<Record<string, unknown>[]> => {
    let docs = documents.get(docUrl);
    if (docs === undefined) {
      docs = loadDocuments(docUrl, allow).then((loaded) => {
        collectNamedTypes(loaded, namedTypes);
        return loaded;
      });
      documents.set(docUrl, docs);
    }
    return docs;
  };
  const processAt = (processUrl: string): Promise<Process> => {
    let process = processes.get(processUrl);
    if (process === undefined) {
      process = (async () => {
        const hash = processUrl.indexOf('#');
        const docUrl = hash >= 0 ? processUrl.slice(0, hash) : processUrl;
        const docs = await documentAt(docUrl);
        const chosen = choose(docs, processUrl, hash >= 0);
        const version = docs.map((d) => d.cwlVersion).find((v) => typeof v === 'string');
        const namespaces = docs.map((d) => d.$namespaces).find((n) => typeof n === 'object' && n !== null) ?? {};
        return normalizeProcess(
          chosen,
          docUrl,
          typeof version === 'string' ? version : 'v1.2',
          namespaces as Record<string, string>,
          await ontologyOf(docUrl, docs),
          namedTypes,
          processAt,
        );
      })();
      processes.set(processUrl, process);
    }
    return process;
  };
  const process = await processAt(url);
  checkLinks(process);
  checkVersionFeatures(process);
  return process;
}

async function loadOntology(urls: readonly string[], allow: UrlPolicy): Promise<FormatGraph> {
  const graph = new Map<string, string[]>();
  for (const url of urls) {
    assertAllowed(url, allow);
    try {
      const text = url.startsWith('file:') ? await readFile(fileURLToPath(url), 'utf8') : await (await fetch(url)).text();
      parseOntology(text, graph);
    } catch (error) {
      throw new InvalidWorkflowError([`${url}: cannot read $schemas ontology: ${errorMessage(error)}`]);
    }
  }
  return graph;
}

/** An attachment's name always wins over reading it as a URL ("colon:test.cwl" is a file). */
async function toUrl(documentUrl: string, baseDir: string): Promise<string> {
  const hash = documentUrl.indexOf('#');
  const path = hash >= 0 ? documentUrl.slice(0, hash) : documentUrl;
  const fragment = hash >= 0 ? documentUrl.slice(hash) : '';
  const attachment = resolve(baseDir, path);
  const isAttachment = !isAbsolute(path) && isInside(attachment, baseDir) && (await stat(attachment).then((s) => s.isFile(), () => false));
  if (!isAttachment && /^[a-z][a-z0-9+.-]+:/i.test(documentUrl)) return documentUrl;
  return pathToFileURL(isAbsolute(path) ? path : attachment).href + fragment;
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function choose(docs: Record<string, unknown>[], url: string, hasFragment: boolean): Record<string, unknown> {
  if (hasFragment) {
    const found = docs.find((d) => d.id === url);
    if (found === undefined) throw new InvalidWorkflowError([`${url}: no process with this id in the document`]);
    return found;
  }
  if (docs.length === 1) return docs[0];
  const main = docs.find((d) => typeof d.id === 'string' && d.id.endsWith('#main'));
  if (main === undefined) throw new InvalidWorkflowError([`${url}: $graph has several processes and none is #main`]);
  return main;
}

/** Every step input and workflow output must name an existing input or step output. */
function checkLinks(process: Process): void {
  if (process.class !== 'Workflow') return;
  const problems: string[] = [];
  const known = knownSources(process);
  for (const step of process.steps) {
    for (const input of step.in) {
      for (const source of input.source) {
        if (!known.has(source)) problems.push(`${process.id}: step ${step.id} input ${input.id}: unknown source ${source}`);
      }
    }
    for (const s of step.scatter) {
      if (!step.in.some((i) => i.id === s)) problems.push(`${process.id}: step ${step.id}: scatter over unknown input ${s}`);
    }
    checkLinks(step.run);
  }
  for (const output of process.outputs) {
    for (const source of output.outputSource) {
      if (!known.has(source)) problems.push(`${process.id}: output ${output.id}: unknown source ${source}`);
    }
  }
  if (problems.length > 0) throw new InvalidWorkflowError(problems);
}

/**
 * Features newer than a document's cwlVersion make it invalid (cwl-ts-auto validates against
 * the v1.2 schema only): `when` and pickValue need v1.2, fractional resources v1.2.
 */
function checkVersionFeatures(process: Process): void {
  const problems: string[] = [];
  const visit = (p: Process): void => {
    const old = p.cwlVersion === 'v1.0' || p.cwlVersion === 'v1.1';
    if (old) {
      for (const r of [...p.requirements, ...p.hints].filter((r) => r.class === 'ResourceRequirement')) {
        for (const [key, value] of Object.entries(r)) {
          if (typeof value === 'number' && !Number.isInteger(value)) problems.push(`${p.id}: ${key} must be an integer in ${p.cwlVersion}`);
        }
      }
    }
    if (p.class !== 'Workflow') return;
    for (const step of p.steps) {
      if (old && step.when !== undefined) problems.push(`${p.id}: step ${step.id}: when needs cwlVersion v1.2`);
      if (old && step.in.some((i) => i.pickValue !== undefined)) problems.push(`${p.id}: step ${step.id}: pickValue needs cwlVersion v1.2`);
      visit(step.run);
    }
  };
  visit(process);
  if (problems.length > 0) throw new InvalidWorkflowError(problems);
}

function knownSources(workflow: Workflow): Set<string> {
  const known = new Set(workflow.inputs.map((i) => i.id));
  for (const step of workflow.steps) for (const out of step.out) known.add(`${step.id}/${out}`);
  return known;
}
