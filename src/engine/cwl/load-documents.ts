/**
 * Fetching and schema validation of CWL documents through cwl-ts-auto (the CWL project's
 * generated loader): it resolves $import/$include, $graph, map forms, type shorthands and
 * identifiers, and rejects documents that do not fit the schema. We keep its result only as
 * the fully expanded JSON that `save()` produces; normalize-process.ts turns that into our
 * model. Every URL it fetches passes the caller's policy first.
 */
import { loadDocument } from 'cwl-ts-auto';
// The package index does not re-export the loader options and fetcher we need to plug in.
import { DefaultFetcher, LoadingOptions, ValidationException } from 'cwl-ts-auto/dist/util/Internal.js';
import { errorMessage, InvalidWorkflowError } from '../../errors.js';
import { assertYamlWithinLimits, parseYaml } from './parse-yaml.js';

export type UrlPolicy = (url: URL) => boolean;

class PolicyFetcher extends DefaultFetcher {
  constructor(private readonly allow: UrlPolicy) {
    super();
  }
  /** Text of an allowed URL, for our own parser (which enforces the document limits). */
  async fetchAllowed(url: string): Promise<string> {
    assertAllowed(url, this.allow);
    return super.fetchText(url);
  }

  /**
   * cwl-ts-auto fetches `$import`s and `$include`s here and parses them with js-yaml, which
   * has no limits: an alias bomb or a deep document is refused before it gets there.
   */
  override async fetchText(url: string): Promise<string> {
    const text = await this.fetchAllowed(url);
    assertYamlWithinLimits(text);
    return text;
  }
}

export function assertAllowed(url: string, allow: UrlPolicy): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidWorkflowError([`${url}: not a valid URL`]);
  }
  if (!allow(parsed)) throw new InvalidWorkflowError([`${url}: fetching this URL is not allowed`]);
}

/** Saved (expanded) JSON of every process in the document at `url` (without fragment). */
export async function loadDocuments(url: string, allow: UrlPolicy): Promise<Record<string, unknown>[]> {
  const fetcher = new PolicyFetcher(allow);
  const options = new LoadingOptions({ fetcher, fileUri: url });
  let loaded: unknown;
  try {
    // We parse the document ourselves: PyYAML-era syntax needs our relaxed parser, and map forms
    // are turned into lists first because cwl-ts-auto would reorder their keys.
    options.idx[url] = listsInDocumentOrder(parseYaml(await fetcher.fetchAllowed(url)));
    loaded = await loadDocument(url, undefined, options);
  } catch (error) {
    if (error instanceof InvalidWorkflowError) throw error;
    if (error instanceof ValidationException) {
      const raw: unknown = options.idx[url];
      const docClass = typeof raw === 'object' && raw !== null && 'class' in raw ? raw.class : undefined;
      throw new InvalidWorkflowError(problemsOf(error, url, docClass), { cause: error });
    }
    throw new InvalidWorkflowError([`${url}: ${errorMessage(error)}`], { cause: error });
  }
  const processes = Array.isArray(loaded) ? loaded : [loaded];
  return processes.map((p: { save: (top: boolean, base: string, relative: boolean) => unknown }) => {
    const saved = p.save(true, '', false);
    if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
      throw new InvalidWorkflowError([`${url}: not a CWL process`]);
    }
    return saved as Record<string, unknown>;
  });
}

const idMaps: Readonly<Record<string, string>> = { inputs: 'id', outputs: 'id', steps: 'id', in: 'id' };

/** Map forms of inputs, outputs, steps and step inputs as lists, keeping the document's order. */
function listsInDocumentOrder(node: unknown, inOutputs = false): unknown {
  if (Array.isArray(node)) return node.map((n) => listsInDocumentOrder(n, inOutputs));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const idKey = idMaps[key];
    const isMap = typeof value === 'object' && value !== null && !Array.isArray(value) && !('$import' in value);
    if (idKey !== undefined && isMap) {
      out[key] = Object.entries(value).map(([id, entry]) => {
        if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
          return { [idKey]: id, ...(listsInDocumentOrder(entry, within(key, inOutputs)) as Record<string, unknown>) };
        }
        return { [idKey]: id, [key === 'in' ? 'source' : key === 'steps' ? 'run' : 'type']: entry };
      });
    } else if (key === 'secondaryFiles') {
      out[key] = secondaryFilesAsStrings(value, inOutputs);
    } else {
      out[key] = listsInDocumentOrder(value, within(key, inOutputs));
    }
  }
  return out;
}

/** Whether the parameters under `key` are outputs (their secondaryFiles default to optional). */
function within(key: string, inOutputs: boolean): boolean {
  return key === 'outputs' ? true : key === 'inputs' ? false : inOutputs;
}

/**
 * `{pattern, required: boolean}` entries in their string form ("p" / "p?"): cwl-ts-auto's
 * loader consumes the object form destructively, so a document tried against several
 * process classes fails on the second try.
 */
function secondaryFilesAsStrings(value: unknown, inOutputs: boolean): unknown {
  const one = (entry: unknown): unknown => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
    const { pattern, required, ...rest } = entry as Record<string, unknown>;
    if (typeof pattern !== 'string' || Object.keys(rest).length > 0) return entry;
    // The plain string means required for inputs and optional for outputs, so an output's
    // `required: true` keeps its object form.
    if (required === undefined || (required === true && !inOutputs)) return pattern;
    return required === false ? `${pattern}?` : entry;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

/**
 * cwl-ts-auto reports a tree: for each process class and each union member it tried, why it
 * did not fit. We keep the branch of the document's own class and report, per field path
 * (e.g. "inputs.type"), the reasons found there.
 */
const processClasses = ['CommandLineTool', 'ExpressionTool', 'Workflow', 'Operation'];

function problemsOf(error: ValidationException, url: string, docClass: unknown): string[] {
  const byPath = new Map<string, Set<string>>();
  const walk = (e: ValidationException, path: readonly string[]): void => {
    const message = e.message.replace(/\s+/g, ' ').trim();
    const trying = /^Trying '(\w+)'/.exec(message);
    const otherClass = trying !== null && processClasses.includes(trying[1]) && trying[1] !== docClass;
    if (otherClass && typeof docClass === 'string') return;
    const field = /^the `([^`]+)` field is not valid because/.exec(message);
    const next = field === null ? path : [...path, field[1]];
    if (message !== '' && trying === null && field === null && !/^tried \w+ but$/.test(message)) {
      const key = next.join('.');
      byPath.set(key, (byPath.get(key) ?? new Set()).add(message));
    }
    for (const child of e.children) walk(child, next);
  };
  walk(error, []);
  // The top level also tried "a list of processes"; that reason only matters when it is the only one.
  if (byPath.size > 1) byPath.delete('');
  const problems = [...byPath].map(([path, reasons]) => `${url}: ${path === '' ? 'document' : path}: ${[...reasons].slice(0, 3).join('; or ')}`);
  return problems.length > 0 ? problems : [`${url}: invalid document`];
}
