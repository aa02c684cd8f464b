/** The worker thread of linked-outputs.ts: reads the descriptor it is given, answers with the linked JSON's bytes, transferred (null: not a JSON object). */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { linkedJson, type LinkAnswer, type LinkRequest } from './linked-outputs.js';

const { fd, runDir, runUrl } = workerData as LinkRequest;
const bytes = linkedJson(readFileSync(fd, 'utf8'), runDir, runUrl);
if (bytes === undefined) {
  parentPort?.postMessage(null satisfies LinkAnswer);
} else {
  // A small result may sit in Buffer's shared pool: offset and length say where in the moved ArrayBuffer it is.
  const answer: LinkAnswer = { buffer: bytes.buffer as ArrayBuffer, offset: bytes.byteOffset, length: bytes.length };
  parentPort?.postMessage(answer, [bytes.buffer as ArrayBuffer]);
}
