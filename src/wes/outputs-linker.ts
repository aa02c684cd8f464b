/**
 * outputs.json → RunLog.outputs, linked, a piece of text at a time. A 100,000-element scatter's
 * outputs are ~40 MB: parsing, linking and writing them whole took ~220 MB of heap per GetRunLog
 * (ten requests at once, gigabytes) and seconds in one stretch. Here the outputs object's
 * members, and arrays wherever they nest among them, are passed through as they come; only
 * each value that is not an array (a File, a record, a number) is parsed, linked and written
 * again on its own. Memory is then one such value plus the piece in hand, whatever the run's
 * size. (A single non-array value is still handled whole, e.g. a Directory with a huge listing.)
 */

export class OutputsSyntaxError extends Error {
  constructor(message: string) {
    super(`outputs.json: ${message}`);
    this.name = 'OutputsSyntaxError';
  }
}

type Mode =
  | 'start' // before the outputs object
  | 'first-key' // after `{`: a key or `}`
  | 'key' // after `,` in an object
  | 'in-key' // inside a key's string
  | 'colon'
  | 'first-value' // after `[`: a value or `]`
  | 'value'
  | 'in-value' // inside a value being collected
  | 'after' // after a value: `,` or the container's end
  | 'done';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const BARE_VALUE = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class OutputsLinker {
  readonly #linkValue: (text: string) => string;
  #mode: Mode = 'start';
  readonly #containers: ('object' | 'array')[] = [];
  /** Consumed so far (for messages). */
  #offset = 0;
  // The value being collected: its text so far, nesting, string state.
  #collected = '';
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** The value is a number or literal: it ends at the next delimiter. */
  #bare = false;

  /** `linkValue` turns one complete non-array JSON value's text into its linked JSON text. */
  constructor(linkValue: (text: string) => string) {
    this.#linkValue = linkValue;
  }

  /** The linked text for as much of `text` (the next piece of the file) as is complete. */
  push(text: string): string {
    const out: string[] = [];
    let i = 0;
    while (i < text.length) {
      if (this.#mode === 'in-value') {
        i = this.#collect(text, i, out);
        continue;
      }
      if (this.#mode === 'in-key') {
        const end = this.#stringEnd(text, i);
        out.push(text.slice(i, end));
        if (!this.#inString) this.#mode = 'colon';
        i = end;
        continue;
      }
      const c = text.charCodeAt(i);
      if (isSpace(c)) {
        i++;
        continue;
      }
      if (this.#structural(c, out, this.#offset + i)) i++;
    }
    this.#offset += text.length;
    return out.join('');
  }

  /** The file ended: throws unless the outputs object was complete. */
  end(): void {
    if (this.#mode !== 'done') this.#syntax('the outputs object is cut off');
  }

  /** Handles a structural character; false when it starts a value, which is then collected from it. */
  #structural(c: number, out: string[], at: number): boolean {
    switch (this.#mode) {
      case 'start':
        if (c !== OPEN_BRACE) this.#syntax('not a JSON object');
        out.push('{');
        this.#containers.push('object');
        this.#mode = 'first-key';
        return true;
      case 'first-key':
      case 'key':
        if (c === CLOSE_BRACE && this.#mode === 'first-key') return this.#close(out, '}');
        if (c !== QUOTE) this.#syntax(`expected a key at ${at}`);
        out.push('"');
        this.#inString = true;
        this.#escaped = false;
        this.#mode = 'in-key';
        return true;
      case 'colon':
        if (c !== COLON) this.#syntax(`expected ':' at ${at}`);
        out.push(':');
        this.#mode = 'value';
        return true;
      case 'first-value':
      case 'value':
        if (c === CLOSE_BRACKET && this.#mode === 'first-value') return this.#close(out, ']');
        if (c === OPEN_BRACKET) {
          out.push('[');
          this.#containers.push('array');
          this.#mode = 'first-value';
          return true;
        }
        if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA || c === COLON) this.#syntax(`expected a value at ${at}`);
        this.#collected = '';
        this.#depth = 0;
        this.#inString = false;
        this.#escaped = false;
        this.#bare = c !== OPEN_BRACE && c !== QUOTE;
        this.#mode = 'in-value';
        return false;
      case 'after': {
        const container = this.#containers[this.#containers.length - 1];
        if (c === COMMA) {
          out.push(',');
          this.#mode = container === 'object' ? 'key' : 'value';
          return true;
        }
        if (c === (container === 'object' ? CLOSE_BRACE : CLOSE_BRACKET)) return this.#close(out, container === 'object' ? '}' : ']');
        return this.#syntax(`expected ',' at ${at}`);
      }
      default:
        return this.#syntax(`unexpected text after the outputs object`);
    }
  }

  #close(out: string[], closer: string): true {
    out.push(closer);
    this.#containers.pop();
    this.#mode = this.#containers.length === 0 ? 'done' : 'after';
    return true;
  }

  /** Collects the value from `i`; once it is complete, writes it linked. Returns where to go on. */
  #collect(text: string, i: number, out: string[]): number {
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) {
          this.#inString = false;
          if (this.#depth === 0) return this.#complete(text, i, j + 1, out);
        }
      } else if (this.#bare) {
        if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) return this.#complete(text, i, j, out);
      } else if (c === QUOTE) {
        this.#inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        this.#depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.#depth--;
        if (this.#depth === 0) return this.#complete(text, i, j + 1, out);
      }
    }
    this.#collected += text.slice(i);
    return text.length;
  }

  #complete(text: string, from: number, to: number, out: string[]): number {
    const value = this.#collected + text.slice(from, to);
    this.#collected = '';
    if (this.#bare && !BARE_VALUE.test(value)) this.#syntax(`not a JSON value: ${value.slice(0, 40)}`);
    // Strings, numbers and literals hold no File: written as they are (big integers stay exact).
    out.push(this.#bare || value.charCodeAt(0) === QUOTE ? value : this.#linkValue(value));
    this.#mode = 'after';
    return to;
  }

  /** Where the string that `text` continues at `i` ends (after its closing quote), or text's end. */
  #stringEnd(text: string, i: number): number {
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (this.#escaped) this.#escaped = false;
      else if (c === BACKSLASH) this.#escaped = true;
      else if (c === QUOTE) {
        this.#inString = false;
        return j + 1;
      }
    }
    return text.length;
  }

  #syntax(message: string): never {
    throw new OutputsSyntaxError(message);
  }
}
