/**
 * Turns cwl-ts-auto's expanded JSON (full-URI identifiers, lists everywhere) into our model:
 * identifiers become short names relative to their process, named types are inlined,
 * `stdout`/`stderr` output types become File outputs globbing the captured stream, and each
 * step's `run` is resolved (through `resolveRun`) to a normalized process.
 */
import { createHash, randomUUID } from 'node:crypto';
import { InvalidWorkflowError } from '../../errors.js';
import type { CwlValue } from '../values/cwl-value.js';
import type {
  CommandLineTool,
  FormatGraph,
  CwlType,
  InputBinding,
  OutputBinding,
  Parameter,
  Process,
  RecordField,
  Requirement,
  SecondaryFileSpec,
  StepInput,
  WorkflowStep,
} from './model.js';

type Json = Record<string, unknown>;
export type RunResolver = (runUrl: string) => Promise<Process>;

interface Context {
  readonly documentUrl: string;
  readonly formatGraph: FormatGraph;
  /** The document's $namespaces, to expand `prefix:name` formats. */
  readonly namespaces: Readonly<Record<string, string>>;
  readonly cwlVersion: string;
  readonly namedTypes: Map<string, unknown>;
  readonly resolveRun: RunResolver;
}

const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The last path segment of an identifier's fragment ("file:///a.cwl#main/step/x" → "x"). */
export function shortName(id: string): string {
  const hash = id.lastIndexOf('#');
  const fragment = hash >= 0 ? id.slice(hash + 1) : id;
  return fragment.slice(fragment.lastIndexOf('/') + 1);
}

/** An identifier relative to its enclosing process ("…#main/step/x" in "…#main" → "step/x"). */
function relativeTo(id: string, parentId: string): string {
  for (const sep of ['/', '#']) {
    if (id.startsWith(parentId + sep)) return id.slice(parentId.length + 1);
  }
  const hash = id.indexOf('#');
  return hash >= 0 ? id.slice(hash + 1) : id;
}

/**
 * The identifier children of the process are named under. An embedded `run` gets a generated
 * id ("_:…" or "_…") while its inputs and steps are named under the enclosing step, so the
 * prefix is taken from the first child instead.
 */
function scopeIdOf(doc: Json): string | undefined {
  const id = str(doc.id);
  if (id !== undefined && !/^_/.test(id)) return id;
  for (const key of ['inputs', 'outputs', 'steps']) {
    for (const child of asList(doc[key])) {
      const childId = isJson(child) ? str(child.id) : undefined;
      if (childId === undefined) continue;
      const hash = childId.indexOf('#');
      const slash = childId.lastIndexOf('/');
      if (slash > hash) return childId.slice(0, slash);
      if (hash >= 0) return childId.slice(0, hash);
    }
  }
  return id;
}

/** Every named record/enum/array type anywhere in the documents, by full name. */
export function collectNamedTypes(documents: readonly unknown[], into: Map<string, unknown>): void {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isJson(v)) {
      const name = str(v.name);
      if (name !== undefined && (v.type === 'record' || v.type === 'enum') && !into.has(name)) into.set(name, v);
      Object.values(v).forEach(walk);
    }
  };
  documents.forEach(walk);
}

export async function normalizeProcess(
  doc: Json,
  documentUrl: string,
  cwlVersion: string,
  namespaces: Readonly<Record<string, string>>,
  formatGraph: FormatGraph,
  namedTypes: Map<string, unknown>,
  resolveRun: RunResolver,
): Promise<Process> {
  const ctx: Context = {
    documentUrl,
    formatGraph,
    namespaces: isJson(doc.$namespaces) ? (doc.$namespaces as Record<string, string>) : namespaces,
    cwlVersion: str(doc.cwlVersion) ?? cwlVersion,
    namedTypes,
    resolveRun,
  };
  const id = scopeIdOf(doc) ?? `${documentUrl}#${randomUUID()}`;
  const base = {
    id,
    documentUrl,
    namespaces: ctx.namespaces,
    formatGraph: ctx.formatGraph,
    label: str(doc.label),
    cwlVersion: ctx.cwlVersion,
    inputs: asList(doc.inputs).map((p) => parameter(p, ctx)),
    requirements: requirements(doc.requirements),
    hints: requirements(doc.hints),
  };
  switch (doc.class) {
    case 'CommandLineTool':
      return commandLineTool(doc, base, ctx);
    case 'ExpressionTool':
      return {
        ...base,
        class: 'ExpressionTool',
        outputs: asList(doc.outputs).map((p) => parameter(p, ctx)),
        expression: str(doc.expression) ?? '',
      };
    case 'Workflow': {
      const steps: WorkflowStep[] = [];
      for (const s of asList(doc.steps)) steps.push(await step(s, id, ctx));
      const outputs = asList(doc.outputs).map((p) => {
        const out = parameter(p, ctx);
        // cwl-ts-auto resolves an outputSource relative to the output's own id.
        const source = (s: string): string => {
          const rel = relativeTo(s, id);
          return rel.startsWith(`${out.id}/`) ? rel.slice(out.id.length + 1) : rel;
        };
        return { ...out, outputSource: out.outputSource.map(source) };
      });
      return { ...base, class: 'Workflow', outputs, steps };
    }
    default:
      throw new InvalidWorkflowError([`${id}: unsupported process class ${String(doc.class)}`]);
  }
}

function commandLineTool(doc: Json, base: Omit<CommandLineTool, 'class' | 'outputs' | 'baseCommand' | 'arguments' | 'successCodes' | 'temporaryFailCodes' | 'permanentFailCodes'>, ctx: Context): CommandLineTool {
  let stdout = str(doc.stdout);
  let stderr = str(doc.stderr);
  const outputs = asList(doc.outputs).map((p) => {
    const out = parameter(p, ctx);
    if (out.type === 'stdout' || out.type === 'stderr') {
      const stream = out.type;
      // Named after the document and output, not at random: a job reattached after a restart
      // must look for the file its first server told it to write.
      const unnamed = `${createHash('sha256').update(`${ctx.documentUrl}\n${out.id}`).digest('hex').slice(0, 32)}.${stream}`;
      const name = stream === 'stdout' ? (stdout ??= unnamed) : (stderr ??= unnamed);
      return { ...out, type: 'File', outputBinding: { glob: name, loadContents: false } };
    }
    return out;
  });
  // An input of type `stdin` is a File that becomes the tool's standard input.
  const stdinInput = base.inputs.find((i) => i.type === 'stdin');
  if (stdinInput !== undefined && doc.stdin !== undefined) {
    throw new InvalidWorkflowError([`${ctx.documentUrl}: input ${stdinInput.id} has type stdin, so the tool cannot also set stdin`]);
  }
  return {
    ...base,
    class: 'CommandLineTool',
    inputs: base.inputs.map((i) => (i === stdinInput ? { ...i, type: 'File' } : i)),
    outputs,
    baseCommand: asList(doc.baseCommand).map(String),
    arguments: asList(doc.arguments).map((a) => (isJson(a) ? inputBinding(a) : String(a))),
    stdin: stdinInput === undefined ? str(doc.stdin) : `$(inputs.${stdinInput.id}.path)`,
    stdout,
    stderr,
    successCodes: asList(doc.successCodes ?? [0]).map(Number),
    temporaryFailCodes: asList(doc.temporaryFailCodes).map(Number),
    permanentFailCodes: asList(doc.permanentFailCodes).map(Number),
  };
}

async function step(raw: unknown, workflowId: string, ctx: Context): Promise<WorkflowStep> {
  if (!isJson(raw)) throw new InvalidWorkflowError([`${workflowId}: a step is not an object`]);
  const id = str(raw.id) ?? randomUUID();
  const runRaw = raw.run;
  const run = isJson(runRaw)
    ? await normalizeProcess(runRaw, ctx.documentUrl, ctx.cwlVersion, ctx.namespaces, ctx.formatGraph, ctx.namedTypes, ctx.resolveRun)
    : await ctx.resolveRun(new URL(String(runRaw), ctx.documentUrl).href);
  const inputs: StepInput[] = asList(raw.in).map((i) => {
    const j = isJson(i) ? i : {};
    return {
      id: shortName(str(j.id) ?? ''),
      source: asList(j.source).map((s) => relativeTo(String(s), workflowId)),
      linkMerge: str(j.linkMerge),
      pickValue: str(j.pickValue),
      default: j.default as CwlValue | undefined,
      valueFrom: str(j.valueFrom),
      loadContents: j.loadContents === true,
    };
  });
  return {
    id: relativeTo(id, workflowId),
    label: str(raw.label),
    in: inputs,
    out: asList(raw.out).map((o) => shortName(isJson(o) ? String(o.id) : String(o))),
    run,
    scatter: asList(raw.scatter).map((s) => shortName(String(s))),
    scatterMethod: str(raw.scatterMethod),
    when: str(raw.when),
    requirements: requirements(raw.requirements),
    hints: requirements(raw.hints),
  };
}

function requirements(raw: unknown): Requirement[] {
  return asList(raw)
    .filter(isJson)
    .map((r) => ({ ...r, class: shortName(String(r.class)) }));
}

function parameter(raw: unknown, ctx: Context): Parameter {
  if (!isJson(raw)) throw new InvalidWorkflowError([`${ctx.documentUrl}: a parameter is not an object`]);
  const binding = isJson(raw.inputBinding) ? inputBinding(raw.inputBinding) : undefined;
  return {
    id: shortName(str(raw.id) ?? ''),
    type: type(raw.type ?? 'Any', ctx),
    default: raw.default as CwlValue | undefined,
    inputBinding: binding,
    outputBinding: isJson(raw.outputBinding) ? outputBinding(raw.outputBinding) : undefined,
    secondaryFiles: secondaryFiles(raw.secondaryFiles),
    format: expandFormat(raw.format, ctx),
    loadContents: raw.loadContents === true || binding?.loadContents === true,
    loadListing: str(raw.loadListing),
    outputSource: asList(raw.outputSource).map(String),
    linkMerge: str(raw.linkMerge),
    pickValue: str(raw.pickValue),
  };
}

function inputBinding(raw: Json): InputBinding {
  return {
    position: typeof raw.position === 'number' || typeof raw.position === 'string' ? raw.position : 0,
    prefix: str(raw.prefix),
    separate: raw.separate !== false,
    itemSeparator: str(raw.itemSeparator),
    valueFrom: raw.valueFrom as CwlValue | undefined,
    shellQuote: raw.shellQuote !== false,
    loadContents: raw.loadContents === true,
  };
}

function outputBinding(raw: Json): OutputBinding {
  return {
    glob: raw.glob as CwlValue | undefined,
    loadContents: raw.loadContents === true,
    outputEval: str(raw.outputEval),
  };
}

function secondaryFiles(raw: unknown): SecondaryFileSpec[] {
  return asList(raw).map((s) =>
    isJson(s) ? { pattern: String(s.pattern), required: s.required as CwlValue | undefined } : { pattern: String(s) },
  );
}

function type(raw: unknown, ctx: Context, seen: ReadonlySet<string> = new Set()): CwlType {
  if (Array.isArray(raw)) return raw.map((t) => type(t, ctx, seen));
  if (typeof raw === 'string') {
    const named = ctx.namedTypes.get(raw);
    if (named !== undefined && !seen.has(raw)) return type(named, ctx, new Set([...seen, raw]));
    return raw.includes('#') ? raw.slice(raw.lastIndexOf('#') + 1) : raw;
  }
  if (!isJson(raw)) throw new InvalidWorkflowError([`${ctx.documentUrl}: invalid type ${JSON.stringify(raw)}`]);
  const binding = isJson(raw.inputBinding) ? inputBinding(raw.inputBinding) : undefined;
  const name = str(raw.name);
  switch (raw.type) {
    case 'array':
      return { type: 'array', items: type(raw.items, ctx, seen), inputBinding: binding };
    case 'enum':
      return { type: 'enum', name, symbols: asList(raw.symbols).map((s) => shortName(String(s))), inputBinding: binding };
    case 'record':
      return { type: 'record', name, fields: asList(raw.fields).map((f) => field(f, ctx, seen)), inputBinding: binding };
    default:
      return type(raw.type, ctx, seen);
  }
}

function field(raw: unknown, ctx: Context, seen: ReadonlySet<string>): RecordField {
  const j = isJson(raw) ? raw : {};
  const binding = isJson(j.inputBinding) ? inputBinding(j.inputBinding) : undefined;
  return {
    name: shortName(str(j.name) ?? ''),
    type: type(j.type, ctx, seen),
    inputBinding: binding,
    outputBinding: isJson(j.outputBinding) ? outputBinding(j.outputBinding) : undefined,
    secondaryFiles: secondaryFiles(j.secondaryFiles),
    format: expandFormat(j.format, ctx),
    loadContents: j.loadContents === true || binding?.loadContents === true,
  };
}

/** `edam:format_1929` → `http://edamontology.org/format_1929` using the document's $namespaces. */
function expandFormat(format: unknown, ctx: Context): CwlValue | undefined {
  if (Array.isArray(format)) return format.map((f) => expandFormat(f, ctx) ?? null);
  if (typeof format !== 'string') return format as CwlValue | undefined;
  const colon = format.indexOf(':');
  const namespace = colon > 0 ? ctx.namespaces[format.slice(0, colon)] : undefined;
  return namespace === undefined ? format : namespace + format.slice(colon + 1);
}
