/**
 * The CWL engine's public surface: load a process (validated, normalized), describe its
 * top-level steps for the host, validate an input object, and execute.
 */
export type { CwlObject, CwlValue } from './values/cwl-value.js';
export type { EngineHost, JobEnd, JobRecord, StepInfo, StepKind, StepPath } from './engine-host.js';
export type { Process as LoadedProcess } from './cwl/model.js';
export { loadProcess, type LoadOptions } from './cwl/load-process.js';
export { prepareInputs } from './cwl/prepare-inputs.js';
export { describeTopLevelSteps, executeProcess } from './scheduler/run-workflow.js';
export { materializeOutputs, type StepOutputs } from './scheduler/scatter-output.js';
export type { ExecuteOptions } from './scheduler/run-state.js';
export { parseYaml } from './cwl/parse-yaml.js';
export { closeSandbox, configureSandbox, type SandboxLimits } from './expressions/sandbox.js';
export { describeWorkflowGraph, type GraphNode, type WorkflowGraph } from './cwl/workflow-graph.js';
