/**
 * The JavaScript sandbox for CWL expressions: QuickJS compiled to WebAssembly. Each
 * evaluation gets a fresh runtime with a memory cap, a stack cap and a wall-clock deadline
 * enforced by QuickJS's interrupt handler, so a runaway expression fails with an
 * ExpressionError instead of hanging or exhausting the server. The sandbox has no module
 * loader and no host functions: `require`, `process`, files and the network do not exist.
 * Values cross the boundary only as JSON text.
 */
import { getQuickJS, shouldInterruptAfterDeadline } from 'quickjs-emscripten';
import type { CwlValue } from '../cwl-value.js';
import { ExpressionError } from './expression-error.js';
import { stringifyJson } from '../../exact-json.js';

export interface SandboxLimits {
  readonly timeoutMs: number;
  readonly memoryBytes: number;
}

export const defaultLimits: SandboxLimits = { timeoutMs: 20_000, memoryBytes: 64 * 1024 * 1024 };

/**
 * Evaluates `code` (a JS expression, or a function body when `isBody`) with `globals` defined
 * as global variables and `lib` (expressionLib) evaluated first.
 */
export async function evaluateInSandbox(
  code: string,
  isBody: boolean,
  globals: Readonly<Record<string, CwlValue>>,
  lib: readonly string[],
  limits: SandboxLimits = defaultLimits,
): Promise<CwlValue> {
  const quickjs = await getQuickJS();
  const runtime = quickjs.newRuntime();
  runtime.setMemoryLimit(limits.memoryBytes);
  runtime.setMaxStackSize(1024 * 1024);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeoutMs));
  const context = runtime.newContext();
  try {
    const prelude = Object.entries(globals)
      .map(([name, value]) => `var ${name} = JSON.parse(${JSON.stringify(stringifyJson(value))});`)
      .join('\n');
    for (const source of [prelude, ...lib]) {
      const result = context.evalCode(source, 'expressionLib.js');
      if (result.error) {
        const error = context.dump(result.error);
        result.error.dispose();
        throw new ExpressionError(`expressionLib failed: ${describe(error)}`);
      }
      result.value.dispose();
    }
    const wrapped = isBody ? `(function(){${code}\n})()` : `(${code}\n)`;
    const result = context.evalCode(`JSON.stringify(${wrapped})`, 'expression.js');
    if (result.error) {
      const error = context.dump(result.error);
      result.error.dispose();
      throw new ExpressionError(`expression ${abbreviate(code)} failed: ${describe(error)}`);
    }
    const text: unknown = context.dump(result.value);
    result.value.dispose();
    return typeof text === 'string' ? (JSON.parse(text) as CwlValue) : null;
  } finally {
    context.dispose();
    runtime.dispose();
  }
}

function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (message === 'interrupted') return 'interrupted: time limit exceeded';
    if (typeof message === 'string') return typeof name === 'string' ? `${name}: ${message}` : message;
  }
  return String(error);
}

function abbreviate(code: string): string {
  const flat = code.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
