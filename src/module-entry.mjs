// The first module of our worker threads and child processes: it loads the module named by
// workerData.module in a worker thread, or by the first argument in a child process (a file:
// URL either way). Run from the sources, that module is TypeScript, and neither
// `node --import tsx` nor bin/wes.js's register() reaches a new thread or process, so the tsx
// loader is registered here first; the compiled server (dist/, `npm start`) skips tsx entirely.
import { isMainThread, workerData } from 'node:worker_threads';

const target = isMainThread ? process.argv[2] : workerData.module;
if (target.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(target);
