/**
 * The JavaScript sandbox for CWL expressions: QuickJS compiled to WebAssembly, run in a pool
 * of worker threads (sandbox-pool.ts) so an expression never blocks the server's event loop.
 * Each request gets a fresh QuickJS context with a memory cap, a stack cap and a wall-clock
 * deadline that the pool enforces by terminating the worker; an expression that exceeds
 * either fails with an ExpressionError naming the limit. The sandbox has no module loader
 * and no host functions: `require`, `process`, files and the network do not exist. Values
 * cross the boundary only as JSON text.
 */
import os from 'node:os';
import type { CwlValue } from '../values/cwl-value.js';
import { CancelledError } from '../../errors.js';
import { ExpressionError } from './expression-error.js';
import { SandboxPool } from './sandbox-pool.js';
import { stringifyJson } from '../../exact-json.js';

export interface SandboxLimits {
  readonly timeoutMs: number;
  readonly memoryBytes: number;
}

let defaultLimits: SandboxLimits = { timeoutMs: 20_000, memoryBytes: 64 * 1024 * 1024 };

/** Who evaluates, for the pool. */
export interface SandboxCallContext {
  /** Per-evaluation limits; the configured ones when absent. */
  readonly limits?: SandboxLimits;
  /** Requests of one queue (a run) take turns with other queues'. */
  readonly queue?: string;
  /** Abandons the evaluation (the run failed elsewhere or was canceled): it rejects with a CancelledError. */
  readonly signal?: AbortSignal;
}

export interface SandboxExpression {
  readonly code: string;
  readonly isBody: boolean;
}

let pool: SandboxPool | undefined;

/**
 * Sets the limits of every later evaluation that does not name its own (the server's
 * configuration; the sandbox's workers are shared by the whole process). Workers started
 * under other limits are stopped.
 */
export async function configureSandbox(limits: SandboxLimits): Promise<void> {
  defaultLimits = limits;
  await closeSandbox();
}

function sharedPool(): SandboxPool {
  pool ??= new SandboxPool({ size: Math.max(1, Math.min(os.availableParallelism(), 8)), memoryBytes: defaultLimits.memoryBytes });
  return pool;
}

/**
 * Evaluates `expressions` in order in one context (the parts of one interpolated string),
 * with `globals` defined as global variables and `lib` (expressionLib) evaluated first.
 * Rejects with an ExpressionError when one throws or exceeds a limit.
 */
export async function evaluateInSandbox(
  expressions: readonly SandboxExpression[],
  globals: Readonly<Record<string, CwlValue>>,
  lib: readonly string[],
  context: SandboxCallContext,
): Promise<CwlValue[]> {
  const limits = context.limits ?? defaultLimits;
  const request = { globalsJson: stringifyJson(globals), lib, expressions, timeoutMs: limits.timeoutMs, memoryBytes: limits.memoryBytes };
  const outcome = await sharedPool().run(request, context.queue ?? '', context.signal);
  if (outcome.kind === 'done') return outcome.values.map((text) => (text === undefined ? null : (JSON.parse(text) as CwlValue)));
  if (outcome.reason === 'error' && outcome.index < 0) throw new ExpressionError(`expressionLib failed: ${outcome.message}`);
  const failed = outcome.index >= 0 ? [expressions[outcome.index]] : expressions;
  const what = `expression ${abbreviate(failed.map((e) => e.code).join(' ... '))}`;
  if (outcome.reason === 'time') throw new ExpressionError(`${what} exceeded the ${duration(limits.timeoutMs)} time limit`);
  if (outcome.reason === 'memory') throw new ExpressionError(`${what} exceeded the ${limits.memoryBytes / (1024 * 1024)} MiB memory limit`);
  if (outcome.reason === 'aborted') throw new CancelledError();
  if (outcome.reason === 'stopped') throw new ExpressionError(`${what} could not be evaluated: ${outcome.message}`);
  throw new ExpressionError(`${what} failed: ${outcome.message}`);
}

/** Stops the sandbox workers (tests and benchmarks that want to exit at once; idle workers never hold the process). */
export async function closeSandbox(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.close();
}

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function abbreviate(code: string): string {
  const flat = code.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
