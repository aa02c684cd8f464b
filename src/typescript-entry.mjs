// Worker threads and child processes do not inherit the main thread's tsx loader (neither
// `node --import tsx` nor bin/wes.js's register()), so each of ours starts here: it registers the
// loader, then loads the TypeScript module named by workerData.module in a worker thread, or by
// the first argument in a child process (a file: URL either way).
import { isMainThread, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(isMainThread ? process.argv[2] : workerData.module);
