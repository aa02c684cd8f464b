/**
 * A sandbox worker thread: QuickJS (WebAssembly) on its own WebAssembly.Memory, one runtime
 * for the worker's life and a fresh context per request, so nothing an expression defines or
 * changes (globals, prototypes) is seen by the next request. The pool on the main thread
 * enforces the wall-clock deadline by terminating this thread; the interrupt handler here
 * stops ordinary loops sooner and keeps the worker. The runtime's memory limit makes
 * allocations fail cleanly; the memory's own maximum is a backstop (hitting it traps, and
 * the worker is retired).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, shouldInterruptAfterDeadline, type QuickJSContext } from 'quickjs-emscripten';
import type { SandboxReply, SandboxRequest } from './sandbox-protocol.js';

export interface SandboxWorkerData {
  /** Largest the worker's WebAssembly memory may grow to. */
  readonly maxMemoryBytes: number;
  /** Retire the worker after a request that left its WebAssembly memory larger than this. */
  readonly recycleAboveBytes: number;
}

// The project's `lib` has no DOM, and @types/node does not declare WebAssembly: the two members used here.
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  RuntimeError: new (message?: string) => Error;
};

const WASM_PAGE = 64 * 1024;
const INITIAL_MEMORY_BYTES = 16 * 1024 * 1024;

const port = parentPort;
if (port === null) throw new Error('sandbox-worker.ts runs only as a worker thread');
const { maxMemoryBytes, recycleAboveBytes } = workerData as SandboxWorkerData;
const memory = new WebAssembly.Memory({
  initial: INITIAL_MEMORY_BYTES / WASM_PAGE,
  maximum: Math.ceil(maxMemoryBytes / WASM_PAGE),
});
const quickjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: memory }));
const runtime = quickjs.newRuntime();
runtime.setMaxStackSize(1024 * 1024);

// A context made while the worker waits, so the next request does not wait for it. It has
// never run anything, so it is as fresh as one made on demand.
let spare: QuickJSContext | undefined;

port.on('message', (request: SandboxRequest) => {
  const reply = evaluate(request);
  port.postMessage(reply);
  // A trap leaves QuickJS's heap in an unknown state: this worker answers nothing more.
  if (reply.kind === 'failed' && reply.recycle && reply.reason === 'memory') port.close();
  else if (!reply.recycle) setImmediate(() => (spare ??= runtime.newContext()));
});
port.postMessage({ kind: 'ready' } satisfies SandboxReply);

function evaluate(request: SandboxRequest): Exclude<SandboxReply, { kind: 'ready' }> {
  runtime.setMemoryLimit(request.memoryBytes);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + request.timeoutMs));
  let context: QuickJSContext | undefined;
  let index = -1;
  try {
    context = spare ?? runtime.newContext();
    spare = undefined;
    defineGlobals(context, request.globalsJson);
    for (const source of request.lib) run(context, source, 'expressionLib.js');
    const values: (string | undefined)[] = [];
    for (const [i, { code, isBody }] of request.expressions.entries()) {
      index = i;
      const wrapped = isBody ? `(function(){${code}\n})()` : `(${code}\n)`;
      const text = run(context, `JSON.stringify(${wrapped})`, 'expression.js');
      values.push(typeof text === 'string' ? text : undefined);
    }
    return { kind: 'done', values, recycle: grown() };
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      // The memory's maximum was reached inside QuickJS (its own limit is set lower).
      return { kind: 'failed', reason: 'memory', message: error.message, index, recycle: true };
    }
    if (error instanceof ThrownInSandbox) {
      return { kind: 'failed', reason: error.reason, message: error.message, index, recycle: grown() };
    }
    throw error;
  } finally {
    context?.dispose();
  }
}

class ThrownInSandbox extends Error {
  constructor(
    readonly reason: 'error' | 'time' | 'memory',
    message: string,
  ) {
    super(message);
  }
}

/** Evaluates `source`; its value dumped to a host value, or a ThrownInSandbox. */
function run(context: QuickJSContext, source: string, filename: string): unknown {
  const result = context.evalCode(source, filename);
  if (result.error) {
    const error: unknown = context.dump(result.error);
    result.error.dispose();
    throw classify(error);
  }
  const value: unknown = context.dump(result.value);
  result.value.dispose();
  return value;
}

function defineGlobals(context: QuickJSContext, globalsJson: string): void {
  const json = context.newString(globalsJson);
  context.setProp(context.global, '__wesGlobals', json);
  json.dispose();
  run(
    context,
    '(function (g) { for (var k in g) globalThis[k] = g[k]; })(JSON.parse(__wesGlobals)); delete globalThis.__wesGlobals;',
    'globals.js',
  );
}

function classify(error: unknown): ThrownInSandbox {
  // QuickJS throws null (or an InternalError) when an allocation fails against the limit.
  if (error === null || error === undefined) return new ThrownInSandbox('memory', 'out of memory');
  if (typeof error === 'object') {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (message === 'interrupted') return new ThrownInSandbox('time', 'interrupted');
    if (message === 'out of memory') return new ThrownInSandbox('memory', 'out of memory');
    if (typeof message === 'string') return new ThrownInSandbox('error', typeof name === 'string' ? `${name}: ${message}` : message);
  }
  return new ThrownInSandbox('error', String(error));
}

function grown(): boolean {
  return memory.buffer.byteLength > recycleAboveBytes;
}
