/**
 * RunLog.outputs as JSON (UTF-8), linked (output-links.ts), from the run's outputs.json, a piece
 * at a time (outputs-linker.ts). A piece is linked on the event loop between two reads: a few ms
 * of work, so a 100,000-element scatter's 40 MB neither stalls other users' requests for
 * seconds nor takes hundreds of MB per request. The file is read through the descriptor
 * openRunFile opened, never through a link a job planted; the server writes it whole or not at
 * all (run-outputs.ts), so a file that starts as a JSON object is one to its end.
 */
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { parseJson, stringifyJson } from '../exact-json.js';
import { RUN_LAYOUT } from '../run-layout.js';
import { openRunFile, RunFileRefused } from '../run-files.js';
import { outputLinker } from './output-links.js';
import { OutputsLinker, OutputsSyntaxError } from './outputs-linker.js';
import { errorMessage } from '../errors.js';

/** Bytes read (and so, about, written) per piece. */
export const PIECE_BYTES = 64 * 1024;

/** Linked outputs: the first piece (all of them for a small file), then the rest as it is asked for. */
export interface LinkedOutputs {
  readonly first: Buffer;
  /** Reads on from the open file; return() closes it. Absent when `first` is everything. */
  readonly rest?: AsyncGenerator<Buffer>;
}

/** Undefined without an outputs file (or with only something a job planted there), or when it is not a JSON object. */
export async function linkedOutputs(runDir: string, runUrl: string): Promise<LinkedOutputs | undefined> {
  const opened = await openRunFile({ path: path.join(runDir, RUN_LAYOUT.outputs), runDir, followLinks: false }).catch((error: unknown) => {
    if (error instanceof RunFileRefused) return undefined;
    throw error;
  });
  if (opened === undefined) return undefined;
  // The generator closes the file once it ends, throws or is returned.
  const pieces = linkedPieces(opened.handle, newLinker(runDir, runUrl));
  try {
    if (opened.size <= PIECE_BYTES) {
      // Read to the end before answering: a small file that is not a whole JSON object shows no outputs.
      const all: Buffer[] = [];
      for await (const piece of pieces) all.push(piece);
      return { first: Buffer.concat(all) };
    }
    const first = await pieces.next();
    return first.done === true ? undefined : { first: first.value, rest: pieces };
  } catch (error) {
    if (error instanceof OutputsSyntaxError) return undefined;
    throw error;
  }
}

/** Outputs kept as text (runs completed before outputs.json), linked; undefined unless a JSON object. */
export function linkedText(text: string, runDir: string, runUrl: string): LinkedOutputs | undefined {
  const linker = newLinker(runDir, runUrl);
  try {
    const linked = linker.push(text);
    linker.end();
    return { first: Buffer.from(linked) };
  } catch (error) {
    if (error instanceof OutputsSyntaxError) return undefined;
    throw error;
  }
}

function newLinker(runDir: string, runUrl: string): OutputsLinker {
  const link = outputLinker(runDir, runUrl);
  return new OutputsLinker((text) => {
    let value: unknown;
    try {
      value = parseJson(text);
    } catch (error) {
      throw new OutputsSyntaxError(errorMessage(error));
    }
    return stringifyJson(link(value));
  });
}

async function* linkedPieces(handle: FileHandle, linker: OutputsLinker): AsyncGenerator<Buffer> {
  try {
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(PIECE_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, PIECE_BYTES, null);
      if (bytesRead === 0) {
        const last = linker.push(decoder.end());
        linker.end();
        yield Buffer.from(last);
        return;
      }
      yield Buffer.from(linker.push(decoder.write(buffer.subarray(0, bytesRead))));
    }
  } finally {
    await handle.close();
  }
}
