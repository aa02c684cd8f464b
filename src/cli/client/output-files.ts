/**
 * `--outdir`: downloads every File of a run's outputs (Directories through their listing)
 * into a local directory, like cwltool's output directory: files of one output keep their
 * basenames, clashes get `_2`, `_3`…, and the printed output object then names local files.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WesClient } from './wes-client.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export async function downloadOutputs(client: WesClient, outputs: Record<string, unknown>, outdir: string): Promise<Record<string, unknown>> {
  await fs.mkdir(outdir, { recursive: true });
  const taken = new Set<string>();
  return (await save(client, outputs as Json, path.resolve(outdir), taken)) as Record<string, unknown>;
}

async function save(client: WesClient, node: Json, dir: string, taken: Set<string>): Promise<Json> {
  if (Array.isArray(node)) {
    const out: Json[] = [];
    for (const item of node) out.push(await save(client, item, dir, taken));
    return out;
  }
  if (node === null || typeof node !== 'object') return node;
  if (node.class === 'File' && typeof node.location === 'string') {
    const target = freeName(dir, typeof node.basename === 'string' ? node.basename : path.basename(new URL(node.location).pathname), taken);
    await fs.writeFile(target, await client.fetchBytes(node.location));
    const secondary = Array.isArray(node.secondaryFiles) ? await save(client, node.secondaryFiles, dir, taken) : undefined;
    return { ...node, location: pathToFileURL(target).href, path: target, ...(secondary === undefined ? {} : { secondaryFiles: secondary }) };
  }
  if (node.class === 'Directory' && Array.isArray(node.listing)) {
    const target = freeName(dir, typeof node.basename === 'string' ? node.basename : 'directory', taken);
    await fs.mkdir(target, { recursive: true });
    return { ...node, location: pathToFileURL(target).href, path: target, listing: await save(client, node.listing, target, new Set()) };
  }
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) out[key] = await save(client, value, dir, taken);
  return out;
}

/** `name` in `dir`, or name_2, name_3… (before the extension) when taken by an earlier output. */
function freeName(dir: string, name: string, taken: Set<string>): string {
  const safe = path.basename(name) || 'output';
  const ext = path.extname(safe);
  const stem = safe.slice(0, safe.length - ext.length);
  let candidate = path.join(dir, safe);
  for (let i = 2; taken.has(candidate); i++) candidate = path.join(dir, `${stem}_${i}${ext}`);
  taken.add(candidate);
  return candidate;
}
