/** The worker thread of linked-outputs.ts: reads the descriptor it is given, answers with the linked text (null: not a JSON object). */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { linkedJson, type LinkRequest } from './linked-outputs.js';

const { fd, runDir, runUrl } = workerData as LinkRequest;
parentPort?.postMessage(linkedJson(readFileSync(fd, 'utf8'), runDir, runUrl) ?? null);
