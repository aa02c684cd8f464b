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
import { InvalidWorkflowError } from '../../errors.js';
import { parseYaml } from './parse-yaml.js';

export type UrlPolicy = (url: URL) => boolean;

class PolicyFetcher extends DefaultFetcher {
  constructor(private readonly allow: UrlPolicy) {
    super();
  }
  override async fetchText(url: string): Promise<string> {
    assertAllowed(url, this.allow);
    return super.fetchText(url);
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
    options.idx[url] = listsInDocumentOrder(parseYaml(await fetcher.fetchText(url)));
    loaded = await loadDocument(url, undefined, options);
  } catch (error) {
    if (error instanceof InvalidWorkflowError) throw error;
    if (error instanceof ValidationException) throw new InvalidWorkflowError(problemsOf(error, url), { cause: error });
    throw new InvalidWorkflowError([`${url}: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
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
function listsInDocumentOrder(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(listsInDocumentOrder);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const idKey = idMaps[key];
    const isMap = typeof value === 'object' && value !== null && !Array.isArray(value) && !('$import' in value);
    if (idKey !== undefined && isMap) {
      out[key] = Object.entries(value).map(([id, entry]) => {
        if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
          return { [idKey]: id, ...(listsInDocumentOrder(entry) as Record<string, unknown>) };
        }
        return { [idKey]: id, [key === 'in' ? 'source' : key === 'steps' ? 'run' : 'type']: entry };
      });
    } else if (key === 'secondaryFiles') {
      out[key] = secondaryFilesAsStrings(value);
    } else {
      out[key] = listsInDocumentOrder(value);
    }
  }
  return out;
}

/**
 * `{pattern, required: boolean}` entries in their string form ("p" / "p?"): cwl-ts-auto's
 * loader consumes the object form destructively, so a document tried against several
 * process classes fails on the second try.
 */
function secondaryFilesAsStrings(value: unknown): unknown {
  const one = (entry: unknown): unknown => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
    const { pattern, required, ...rest } = entry as Record<string, unknown>;
    if (typeof pattern !== 'string' || Object.keys(rest).length > 0) return entry;
    if (required === undefined || required === true) return pattern;
    return required === false ? `${pattern}?` : entry;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

/** One problem per line of cwl-ts-auto's nested message, each keeping its location prefix. */
function problemsOf(error: ValidationException, url: string): string[] {
  const lines = error.toString().split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.length > 0 ? lines.map((l) => `${url}: ${l}`) : [`${url}: invalid document`];
}
