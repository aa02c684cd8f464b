/** An EngineHost that records nothing: for running the engine without a store (conformance, benchmarks). */
import type { EngineHost } from '../../src/engine/index.js';

export const nullEngineHost: EngineHost = {
  stepStarted: async () => undefined,
  scatterSized: async () => undefined,
  elementsNotRun: async () => undefined,
  jobCreated: async () => undefined,
  jobStarted: async () => undefined,
  jobEnded: async () => undefined,
  findCompletedJob: async () => undefined,
};
