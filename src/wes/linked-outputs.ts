/**
 * RunLog.outputs as JSON (UTF-8 bytes), linked (output-links.ts), from the run's outputs.json.
 * A 100,000-element scatter's file is ~45 MB: parsing it, linking every File and writing it out
 * again took seconds in one synchronous stretch, during which no other user's request was
 * answered. A large file is therefore handled by a worker thread, given the descriptor this
 * thread opened (openRunFile: never through a link a job planted), which hands back the bytes
 * as a transferred buffer: posting the text as a string made the receiving thread copy and
 * decode it, itself a stall of hundreds of ms. A small file, the common case, is done right
 * here, where starting a thread would cost more than the work.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseJson, stringifyJson } from '../exact-json.js';
import { RUN_LAYOUT } from '../run-layout.js';
import { openRunFile, RunFileRefused } from '../run-files.js';
import { siblingModule } from '../sibling-module.js';
import { linkOutputs } from './output-links.js';

/** Up to this size the file is handled on the calling thread (about 10 ms of work). */
export const INLINE_BYTES = 1 << 20;
const ENTRY = new URL('../module-entry.mjs', import.meta.url);
const MODULE = siblingModule(import.meta.url, './linked-outputs-worker');

export interface LinkRequest {
  readonly fd: number;
  readonly runDir: string;
  readonly runUrl: string;
}

/** The worker's answer: the JSON's bytes, or null when the file is not a JSON object. */
export type LinkAnswer = { readonly buffer: ArrayBuffer; readonly offset: number; readonly length: number } | null;

/** The linked outputs' JSON; undefined without an outputs file (or with only something a job planted there). */
export async function linkedOutputsJson(runDir: string, runUrl: string): Promise<Buffer | undefined> {
  const opened = await openRunFile({ path: path.join(runDir, RUN_LAYOUT.outputs), runDir, followLinks: false }).catch((error: unknown) => {
    if (error instanceof RunFileRefused) return undefined;
    throw error;
  });
  if (opened === undefined) return undefined;
  try {
    const { size } = await opened.handle.stat();
    if (size <= INLINE_BYTES) return linkedJson(await opened.handle.readFile('utf8'), runDir, runUrl);
    return await inWorker({ fd: opened.handle.fd, runDir, runUrl });
  } finally {
    await opened.handle.close();
  }
}

/** Outputs text → the linked outputs' JSON (UTF-8); undefined unless the text is a JSON object. */
export function linkedJson(text: string, runDir: string, runUrl: string): Buffer | undefined {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return Buffer.from(stringifyJson(linkOutputs(value as Record<string, unknown>, runDir, runUrl)));
}

function inWorker(request: LinkRequest): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(ENTRY, { workerData: { ...request, module: MODULE }, env: {}, stdout: false, stderr: false });
    worker.once('message', (answer: LinkAnswer) => resolve(answer === null ? undefined : Buffer.from(answer.buffer, answer.offset, answer.length)));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the outputs worker exited with ${code} before answering`)));
  });
}
