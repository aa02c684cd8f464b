/** The worker thread of linked-outputs.ts: reads the descriptor it is given, answers with the linked JSON's bytes, transferred (null: not a JSON object). */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { linkedJson, type LinkAnswer, type LinkRequest } from './linked-outputs.js';

const { fd, runDir, runUrl } = workerData as LinkRequest;
const text = linkedJson(readFileSync(fd, 'utf8'), runDir, runUrl);
if (text === undefined) {
  parentPort?.postMessage(null satisfies LinkAnswer);
} else {
  // Buffer.from gives a buffer this large its own ArrayBuffer (only small ones share a pool), so all of it can move.
  const bytes = Buffer.from(text);
  const answer: LinkAnswer = { buffer: bytes.buffer as ArrayBuffer, offset: bytes.byteOffset, length: bytes.length };
  parentPort?.postMessage(answer, [bytes.buffer as ArrayBuffer]);
}
