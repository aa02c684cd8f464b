/**
 * JSON that keeps integers exact. CWL values are JSON, and documents and inputs may write
 * integers beyond 2^53 (`long`/`double` values such as 4200000000000000000000000000000000000000000)
 * that must come back digit for digit, as the reference implementation (Python) returns them.
 * Such integers are held as `bigint`; every other number stays a `number`. Node 20's JSON has
 * no access to a literal's source text, so big integer literals travel through JSON.parse and
 * JSON.stringify as strings carrying a per-call random marker, which no input can forge.
 */
import { randomBytes } from 'node:crypto';

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** JSON.parse, with integer literals that a double cannot hold exactly as bigint. */
export function parseJson(text: string): unknown {
  // Only a literal of 16 or more digits can be beyond 2^53.
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  const nonce = randomBytes(12).toString('hex');
  const marker = `\u0000${nonce}:`;
  let rewritten = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? c;
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        rewritten += `${text.slice(copied, i)}"\\u0000${nonce}:${token}"`;
        copied = i + token.length;
      }
      i += token.length - 1;
    }
  }
  if (copied === 0) return JSON.parse(text);
  return JSON.parse(rewritten + text.slice(copied), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(marker) ? BigInt(value.slice(marker.length)) : value,
  );
}

/** JSON.stringify that writes bigint values as plain integer literals. */
export function stringifyJson(value: unknown, space?: number): string {
  // Plain JSON.stringify (fast, and what almost every value needs) throws a TypeError on a bigint.
  try {
    return JSON.stringify(value, undefined, space);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let nonce: string | undefined;
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      nonce ??= randomBytes(12).toString('hex');
      return `\u0000${nonce}:${v.toString()}`;
    },
    space,
  );
  return nonce === undefined ? text : text.replace(new RegExp(`"\\\\u0000${nonce}:(-?\\d+)"`, 'g'), '$1');
}

/** Array elements serialised between two turns of the event loop. */
const SLICE = 1_000;
const PAUSE = Symbol('pause');

/**
 * An array too long to hold in memory (a large scatter's gathered output): its elements are
 * read in order, a batch at a time, as it is written out by stringifyJsonInPieces.
 */
export abstract class StreamedJsonArray {
  abstract batches(): AsyncIterable<readonly unknown[]>;
}

/**
 * The text of stringifyJson(value) in pieces, returning to the event loop after every 1,000
 * array elements, so that serialising a 100,000-element scatter's outputs (tens of MB, hundreds
 * of ms in one call) neither stalls requests nor holds its whole text in memory at once. A
 * StreamedJsonArray anywhere in `value` is written as the array of its elements.
 */
export async function* stringifyJsonInPieces(value: unknown): AsyncGenerator<string> {
  yield* expand(value, { elements: 0 });
}

async function* expand(value: unknown, count: { elements: number }): AsyncGenerator<string> {
  for (const piece of pieces(value, count)) {
    if (piece === PAUSE) {
      await new Promise((resolve) => setImmediate(resolve));
    } else if (piece instanceof StreamedJsonArray) {
      yield '[';
      let first = true;
      for await (const batch of piece.batches()) {
        for (const element of batch) {
          if (!first) yield ',';
          first = false;
          if (++count.elements % SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
          yield* expand(element ?? null, count);
        }
      }
      yield ']';
    } else {
      yield piece;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Arrays are taken apart element by element (an array may be long, or hold long ones, as
 * nested_crossproduct outputs do), objects only when a member is an array or object; a
 * streamed array is handed to `expand`, which reads it; anything else is one stringifyJson call.
 */
function* pieces(value: unknown, count: { elements: number }): Generator<string | typeof PAUSE | StreamedJsonArray> {
  if (value instanceof StreamedJsonArray) {
    yield value;
  } else if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      if (++count.elements % SLICE === 0) yield PAUSE;
      // As JSON.stringify writes an array's undefined or function elements.
      yield* pieces(value[i] ?? null, count);
    }
    yield ']';
  } else if (isPlainObject(value) && Object.values(value).some((member) => Array.isArray(member) || isPlainObject(member) || member instanceof StreamedJsonArray)) {
    yield '{';
    let first = true;
    for (const [key, member] of Object.entries(value)) {
      if (member === undefined || typeof member === 'function') continue;
      yield `${first ? '' : ','}${JSON.stringify(key)}:`;
      first = false;
      yield* pieces(member, count);
    }
    yield '}';
  } else {
    yield stringifyJson(value) ?? 'null';
  }
}
