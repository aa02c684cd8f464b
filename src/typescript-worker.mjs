// Worker threads do not inherit the main thread's tsx loader (neither `node --import tsx` nor
// bin/wes.js's register()), so every worker of ours starts here: it registers the loader, then
// loads the TypeScript module named by workerData.module (a file: URL).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
