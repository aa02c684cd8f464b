/**
 * A completed run's CWL output object, kept as `outputs.json` in its run directory rather than
 * in the database: a 100,000-element scatter's outputs are tens of MB of JSON, which as one
 * database value had to exist whole in memory (object, text and the driver's copy) and was
 * written in one synchronous SQLite statement that stalled every request. The file is written
 * in pieces, under a new name, then renamed into place before the run is marked COMPLETE, so
 * a reader never sees half of it. A job may have planted something at that path (an unconfined
 * job can write anywhere in its run): the temporary file is created exclusively without
 * following links, the rename replaces whatever was there, and the reader (wes/linked-outputs.ts)
 * opens it like any file a job could have touched (run-files.openRunFile).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { stringifyJsonInPieces } from './exact-json.js';
import { RUN_LAYOUT } from './run-layout.js';

/** Bytes gathered before a write: few system calls, little held. */
const WRITE_CHUNK = 1 << 20;

export async function writeRunOutputs(runDir: string, outputs: Record<string, unknown>): Promise<void> {
  const target = path.join(runDir, RUN_LAYOUT.outputs);
  const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fsp.open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  // Cleared before the close is tried: a failed close(2) releases the descriptor all the same.
  let handleOpen = true;
  try {
    // The pieces are encoded into one buffer, used again for every write. Joined into a 1 MB
    // string per write, each became a large object that only a full collection frees, and its
    // copy a 1 MB buffer outside the heap: the server's RSS rose 22 MiB in a 30,000-job run's
    // last second (its outputs written), 11 MiB so (and ~45 MiB at 100,000 before).
    const chunk = Buffer.allocUnsafe(WRITE_CHUNK);
    let used = 0;
    for await (const piece of stringifyJsonInPieces(outputs)) {
      const bytes = Buffer.byteLength(piece);
      if (used + bytes > chunk.length) {
        await handle.write(chunk, 0, used);
        used = 0;
      }
      if (bytes > chunk.length) await handle.write(piece);
      else used += chunk.write(piece, used);
    }
    await handle.write(chunk, 0, used);
    await handle.sync();
    handleOpen = false;
    await handle.close();
    await fsp.rename(temporary, target);
  } catch (error) {
    if (handleOpen) await handle.close().catch(() => undefined);
    await fsp.rm(temporary, { force: true });
    throw error;
  }
}
