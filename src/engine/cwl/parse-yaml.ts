/**
 * YAML parsing for CWL documents and job files. Many CWL files (including the conformance
 * suite) were written for PyYAML, which accepts flow collections whose continuation lines
 * are not indented past their parent key; the `yaml` package rejects them. When strict
 * parsing fails we indent such continuation lines and parse again.
 *
 * Every document is measured before it becomes a value: a few hundred bytes of nested
 * aliases ("billion laughs") expand to billions of nodes, and whatever walks the value
 * afterwards (our normalizer, cwl-ts-auto) would stall the server; a document nested
 * thousands deep overflows the stack of every recursive walk. Both are refused with a
 * DocumentLimitError naming the limit.
 */
import YAML, { isAlias, isCollection, isPair, isScalar, type Document, type Node, type ScalarTag, type Tags } from 'yaml';

/** Most nodes that aliases may add when expanded (the anchors' copies), per document. */
export const MAX_ALIAS_EXPANSION = 100_000;
/** Deepest nesting of collections in a document (after alias expansion). */
export const MAX_DOCUMENT_DEPTH = 128;

/** A document exceeds a size limit; the message names the limit. */
export class DocumentLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentLimitError';
  }
}

export function parseYaml(text: string): unknown {
  assertFlowDepth(text);
  const doc = YAML.parseDocument(text, { uniqueKeys: false, customTags: exactIntegers });
  if (doc.errors.length === 0) return checkedToJs(doc);
  const relaxed = YAML.parseDocument(indentFlowContinuations(text), { uniqueKeys: false, customTags: exactIntegers });
  if (relaxed.errors.length === 0) return checkedToJs(relaxed);
  throw doc.errors[0];
}

/**
 * Throws a DocumentLimitError when `text` parses as YAML beyond the limits; text that is not
 * YAML at all passes (for text another parser reads, such as cwl-ts-auto's `$import`s).
 */
export function assertYamlWithinLimits(text: string): void {
  assertFlowDepth(text);
  const doc = YAML.parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length === 0) measure(doc);
}

/** Deep flow nesting is refused before parsing: the parser recurses on it (seconds at 100,000 levels). */
function assertFlowDepth(text: string): void {
  if (scanFlows(text).deepest > MAX_DOCUMENT_DEPTH) throw tooDeep();
}

function tooDeep(): DocumentLimitError {
  return new DocumentLimitError(`YAML nesting exceeds ${MAX_DOCUMENT_DEPTH} levels`);
}

function checkedToJs(doc: Document): unknown {
  measure(doc);
  // Within the limits, aliases may be expanded freely.
  return doc.toJS({ maxAliasCount: -1 });
}

interface Size {
  /** Nodes with aliases expanded. */
  readonly expanded: number;
  /** Nodes as written (an alias is one). */
  readonly written: number;
  /** Collection nesting with aliases expanded. */
  readonly height: number;
}

const LEAF: Size = { expanded: 1, written: 1, height: 0 };

/** Sizes every node once (an anchor's size is reused at each alias), failing at the first limit crossed. */
function measure(doc: Document): void {
  const sizes = new Map<Node, Size>();
  // The node each anchor names so far, in document order (an alias refers to the latest one before it).
  const anchors = new Map<string, Node>();
  const visit = (node: unknown, depth: number): Size => {
    if (depth > MAX_DOCUMENT_DEPTH) throw tooDeep();
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) return LEAF; // unresolved: toJS reports it
      const size = sizes.get(target);
      if (size === undefined) throw new DocumentLimitError(`YAML alias *${node.source} is inside its own anchor`);
      if (depth + size.height > MAX_DOCUMENT_DEPTH) throw tooDeep();
      return { expanded: size.expanded, written: 1, height: size.height };
    }
    if (!isScalar(node) && !isCollection(node)) return LEAF;
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    if (isScalar(node)) {
      sizes.set(node, LEAF);
      return LEAF;
    }
    let expanded = 1;
    let written = 1;
    let height = 0;
    for (const item of node.items) {
      for (const child of isPair(item) ? [item.key, item.value] : [item]) {
        if (child === null || child === undefined) continue;
        const size = visit(child, depth + 1);
        expanded += size.expanded;
        written += size.written;
        height = Math.max(height, size.height + 1);
      }
    }
    if (expanded - written > MAX_ALIAS_EXPANSION) {
      throw new DocumentLimitError(`YAML alias expansion exceeds ${MAX_ALIAS_EXPANSION} nodes`);
    }
    const size = { expanded, written, height };
    sizes.set(node, size);
    return size;
  };
  visit(doc.contents, 0);
}

/** Decimal integers beyond 2^53 are read as bigint, so they keep every digit (src/exact-json.ts). */
function exactIntegers(tags: Tags): Tags {
  const resolve = (source: string): number | bigint => (Number.isSafeInteger(Number(source)) ? Number(source) : BigInt(source));
  return tags.map((tag) =>
    typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:int' && !('collection' in tag) && tag.format === undefined
      ? ({ ...tag, resolve } satisfies ScalarTag)
      : tag,
  );
}

/** Lines that start while a `[`/`{` opened on an earlier line is still open get extra indent. */
function indentFlowContinuations(text: string): string {
  const { lines, openAtStart } = scanFlows(text);
  return lines.map((line, i) => (openAtStart[i] > 0 ? `          ${line}` : line)).join('\n');
}

/**
 * Flow collections (`[`, `{`) still open at the start of each line, and the deepest nesting
 * of them anywhere, skipping quoted text inside flows and comments.
 */
function scanFlows(text: string): { lines: string[]; openAtStart: number[]; deepest: number } {
  let depth = 0;
  let deepest = 0;
  let quote: string | undefined;
  const lines = text.split('\n');
  const openAtStart: number[] = [];
  for (const line of lines) {
    openAtStart.push(depth);
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote !== undefined) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = undefined;
      } else if ((c === '"' || c === "'") && depth > 0) {
        quote = c;
      } else if (c === '#' && (i === 0 || line[i - 1] === ' ')) {
        break;
      } else if (c === '[' || c === '{') {
        depth++;
        deepest = Math.max(deepest, depth);
      } else if ((c === ']' || c === '}') && depth > 0) {
        depth--;
      }
    }
  }
  return { lines, openAtStart, deepest };
}
