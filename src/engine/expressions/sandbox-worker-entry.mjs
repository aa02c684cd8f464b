// Worker threads do not inherit the main thread's tsx loader (neither `node --import tsx` nor
// bin/wes.js's register()), so the sandbox worker registers it before loading its TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./sandbox-worker.ts');
