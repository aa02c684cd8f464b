/**
 * CWL string interpolation: finds `$(…)` (and, with InlineJavascriptRequirement, `${…}`)
 * in a string, evaluates each, and either returns the value itself (the string is one
 * expression) or splices the values into the text (non-strings as JSON). `\$(` escapes.
 */
import type { CwlValue } from '../values/cwl-value.js';
import { ExpressionError } from './expression-error.js';
import { evaluateParameterReference, isPlainReference } from './parameter-reference.js';
import { pythonJson } from './python-json.js';
import { evaluateInSandbox, type SandboxExpression, type SandboxLimits } from './sandbox.js';

export interface ExpressionScope {
  readonly inputs: CwlValue;
  readonly self: CwlValue;
  readonly runtime: CwlValue;
}

export interface ExpressionOptions {
  /** InlineJavascriptRequirement is in effect. */
  readonly javascript: boolean;
  readonly expressionLib: readonly string[];
  readonly limits?: SandboxLimits;
  /** The run the expressions belong to: runs take turns in the sandbox. */
  readonly queue?: string;
  /** Abandons a pending evaluation when the job or run stops. */
  readonly signal?: AbortSignal;
}

export interface InterpolationOptions {
  /**
   * Whether whitespace around a lone expression is ignored so its value is returned as is
   * (true everywhere except InitialWorkDir file contents, which are taken literally).
   */
  readonly stripWhitespace: boolean;
}

type Part = { readonly text: string } | SandboxExpression;

export function isExpression(value: unknown): value is string {
  return typeof value === 'string' && (value.includes('$(') || value.includes('${'));
}

export async function evaluateExpression(
  value: CwlValue | undefined,
  scope: ExpressionScope,
  options: ExpressionOptions,
  interpolation: InterpolationOptions = { stripWhitespace: true },
): Promise<CwlValue> {
  if (value === undefined) return null;
  if (!isExpression(value)) return value;
  const parts = scan(value, options.javascript);
  const code = parts.filter((p) => 'code' in p);
  const values = await evaluateParts(code, scope, options);
  const blank = (p: Part): boolean => 'code' in p || (interpolation.stripWhitespace && p.text.trim() === '');
  if (code.length === 1 && parts.every(blank)) return values[0];
  let out = '';
  let next = 0;
  for (const part of parts) {
    if ('text' in part) out += part.text;
    else {
      const v = values[next++];
      out += typeof v === 'string' ? v : pythonJson(v);
    }
  }
  return out;
}

/** Parameter references natively; JavaScript in one sandbox request for all parts of the string. */
async function evaluateParts(code: readonly SandboxExpression[], scope: ExpressionScope, options: ExpressionOptions): Promise<CwlValue[]> {
  const globals = { inputs: scope.inputs, self: scope.self, runtime: scope.runtime };
  if (!options.javascript) return code.map((part) => evaluateParameterReference(part.code, globals));
  const native = code.every((part) => !part.isBody && isPlainReference(part.code)) ? tryNatively(code, globals) : undefined;
  return native ?? evaluateInSandbox(code, globals, options.expressionLib, options);
}

/**
 * Plain references under InlineJavascriptRequirement, without the sandbox: own properties
 * and array items give what JavaScript gives; anything else (a missing key, a string's
 * length) is left to JavaScript, whose answer may differ from the native error.
 */
function tryNatively(code: readonly SandboxExpression[], globals: Readonly<Record<string, CwlValue>>): CwlValue[] | undefined {
  try {
    return code.map((part) => evaluateParameterReference(part.code, globals));
  } catch (error) {
    if (error instanceof ExpressionError) return undefined;
    throw error;
  }
}

function scan(source: string, javascript: boolean): Part[] {
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    // `\\` is a backslash and `\$(` / `\${` a literal `$(` / `${`; other backslashes stay.
    if (c === '\\' && source[i + 1] === '\\') {
      text += '\\';
      i += 2;
      continue;
    }
    if (c === '\\' && source[i + 1] === '$' && (source[i + 2] === '(' || source[i + 2] === '{')) {
      text += `$${source[i + 2]}`;
      i += 3;
      continue;
    }
    const open = source[i + 1];
    if (c === '$' && (open === '(' || (open === '{' && javascript))) {
      const end = matchingClose(source, i + 1);
      if (text !== '') parts.push({ text });
      text = '';
      parts.push({ code: source.slice(i + 2, end), isBody: open === '{' });
      i = end + 1;
      continue;
    }
    text += c;
    i++;
  }
  if (text !== '') parts.push({ text });
  return parts;
}

/** Index of the bracket closing the one at `start`, skipping string literals. */
function matchingClose(source: string, start: number): number {
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = start; i < source.length; i++) {
    const c = source[i];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '{' || c === '[') stack.push(c === '(' ? ')' : c === '{' ? '}' : ']');
    else if (c === ')' || c === '}' || c === ']') {
      if (stack.pop() !== c) break;
      if (stack.length === 0) return i;
    }
  }
  throw new ExpressionError(`unterminated expression in ${JSON.stringify(source)}`);
}
