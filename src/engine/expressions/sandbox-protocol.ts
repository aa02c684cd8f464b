/**
 * The messages between the expression pool (main thread) and a sandbox worker. A worker
 * posts `ready` once QuickJS is loaded, then answers each request with one reply, in order.
 * Values cross as JSON text only.
 */

export interface SandboxRequest {
  /** JSON of an object whose properties become global variables (inputs, self, runtime). */
  readonly globalsJson: string;
  /** expressionLib sources, evaluated in order before the expressions. */
  readonly lib: readonly string[];
  /** Evaluated in order in one fresh context: a JS expression, or a function body when `isBody`. */
  readonly expressions: readonly { readonly code: string; readonly isBody: boolean }[];
  readonly timeoutMs: number;
  readonly memoryBytes: number;
}

export type SandboxReply =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'done';
      /** JSON.stringify of each expression's value (undefined for `undefined`). */
      readonly values: readonly (string | undefined)[];
      /** The worker's WebAssembly memory grew: retire it, since that memory is never returned. */
      readonly recycle: boolean;
    }
  | {
      readonly kind: 'failed';
      /** `error`: the expression threw; `time`/`memory`: it exceeded the limit. */
      readonly reason: 'error' | 'time' | 'memory';
      readonly message: string;
      /** Index of the expression that failed, or -1 for expressionLib. */
      readonly index: number;
      readonly recycle: boolean;
    };
