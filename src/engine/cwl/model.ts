/**
 * The engine's own model of a loaded CWL process: what the runner needs and nothing else.
 * Identifiers are short (an input is "file1", a source is "step1/output"), every map form of
 * the document is a list, and named types from SchemaDefRequirement are already inlined.
 * Expressions stay strings; the expressions layer evaluates them.
 */
import type { CwlValue } from '../values/cwl-value.js';

/** Format class IRI → the classes it is a subclass of or equivalent to ($schemas ontologies). */
export type FormatGraph = ReadonlyMap<string, readonly string[]>;

export type CwlType = string | CwlType[] | ArrayType | RecordType | EnumType;

export interface ArrayType {
  readonly type: 'array';
  readonly items: CwlType;
  readonly inputBinding?: InputBinding;
}

export interface RecordType {
  readonly type: 'record';
  readonly name?: string;
  readonly fields: readonly RecordField[];
  readonly inputBinding?: InputBinding;
}

export interface RecordField {
  readonly name: string;
  readonly type: CwlType;
  readonly inputBinding?: InputBinding;
  readonly outputBinding?: OutputBinding;
  readonly secondaryFiles: readonly SecondaryFileSpec[];
  readonly format?: CwlValue;
  readonly loadContents: boolean;
}

export interface EnumType {
  readonly type: 'enum';
  readonly name?: string;
  readonly symbols: readonly string[];
  readonly inputBinding?: InputBinding;
}

export interface InputBinding {
  readonly position: number | string;
  readonly prefix?: string;
  readonly separate: boolean;
  readonly itemSeparator?: string;
  readonly valueFrom?: CwlValue;
  readonly shellQuote: boolean;
  readonly loadContents: boolean;
}

export interface OutputBinding {
  readonly glob?: CwlValue;
  readonly loadContents: boolean;
  readonly outputEval?: string;
}

export interface SecondaryFileSpec {
  readonly pattern: string;
  readonly required?: CwlValue;
}

export interface Parameter {
  readonly id: string;
  readonly type: CwlType;
  readonly default?: CwlValue;
  readonly inputBinding?: InputBinding;
  readonly outputBinding?: OutputBinding;
  readonly secondaryFiles: readonly SecondaryFileSpec[];
  readonly format?: CwlValue;
  readonly loadContents: boolean;
  readonly loadListing?: string;
  /** Workflow outputs only: where the value comes from ("step/out" or an input id). */
  readonly outputSource: readonly string[];
  readonly linkMerge?: string;
  readonly pickValue?: string;
}

export interface Requirement {
  readonly class: string;
  readonly [key: string]: unknown;
}

interface ProcessBase {
  readonly id: string;
  /** URL of the document the process came from; relative locations resolve against it. */
  readonly documentUrl: string;
  /** The document's $namespaces (prefix → IRI), for `prefix:name` formats in input objects. */
  readonly namespaces: Readonly<Record<string, string>>;
  /** Ontology of the document's $schemas, for checking input formats. */
  readonly formatGraph: FormatGraph;
  readonly label?: string;
  readonly cwlVersion: string;
  readonly inputs: readonly Parameter[];
  readonly outputs: readonly Parameter[];
  readonly requirements: readonly Requirement[];
  readonly hints: readonly Requirement[];
}

export interface CommandLineTool extends ProcessBase {
  readonly class: 'CommandLineTool';
  readonly baseCommand: readonly string[];
  readonly arguments: readonly (string | InputBinding)[];
  readonly stdin?: string;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly successCodes: readonly number[];
  readonly temporaryFailCodes: readonly number[];
  readonly permanentFailCodes: readonly number[];
}

export interface ExpressionTool extends ProcessBase {
  readonly class: 'ExpressionTool';
  readonly expression: string;
}

export interface StepInput {
  readonly id: string;
  readonly source: readonly string[];
  readonly linkMerge?: string;
  readonly pickValue?: string;
  readonly default?: CwlValue;
  readonly valueFrom?: string;
  readonly loadContents: boolean;
}

export interface WorkflowStep {
  readonly id: string;
  readonly label?: string;
  readonly in: readonly StepInput[];
  readonly out: readonly string[];
  readonly run: Process;
  readonly scatter: readonly string[];
  readonly scatterMethod?: string;
  readonly when?: string;
  readonly requirements: readonly Requirement[];
  readonly hints: readonly Requirement[];
}

export interface Workflow extends ProcessBase {
  readonly class: 'Workflow';
  readonly steps: readonly WorkflowStep[];
}

export type Process = CommandLineTool | ExpressionTool | Workflow;
