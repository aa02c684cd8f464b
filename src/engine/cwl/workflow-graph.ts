/**
 * The workflow as a graph for display: its inputs, steps (scattered or not, subworkflows
 * marked) and outputs as nodes, and the data links between them as edges. Derived from the
 * loaded model only: sources are short ids, `input` or `step/output`.
 */
import type { Process } from './model.js';

export interface GraphNode {
  readonly id: string;
  readonly kind: 'input' | 'step' | 'output';
  readonly label: string;
  readonly scattered: boolean;
  readonly subworkflow: boolean;
  /** For steps: the top-level task id of the step (inputs come first, as in the task list). */
  readonly taskId?: string;
}

export interface WorkflowGraph {
  readonly nodes: readonly GraphNode[];
  /** [from node id, to node id] */
  readonly edges: readonly (readonly [string, string])[];
}

export function describeWorkflowGraph(process: Process): WorkflowGraph {
  const nodes: GraphNode[] = process.inputs.map((input) => ({ id: `in:${input.id}`, kind: 'input', label: input.id, scattered: false, subworkflow: false }));
  const edges: [string, string][] = [];
  const k = process.inputs.length;
  const nodeOfSource = (source: string) => (source.includes('/') ? `step:${source.split('/')[0]}` : `in:${source}`);
  if (process.class === 'Workflow') {
    for (const [j, step] of process.steps.entries()) {
      nodes.push({
        id: `step:${step.id}`,
        kind: 'step',
        label: step.label ?? step.id,
        scattered: step.scatter.length > 0,
        subworkflow: step.run.class === 'Workflow',
        taskId: String(k + j),
      });
      for (const input of step.in) for (const source of input.source) edges.push([nodeOfSource(source), `step:${step.id}`]);
    }
  } else {
    nodes.push({ id: 'step:tool', kind: 'step', label: process.label ?? process.class, scattered: false, subworkflow: false, taskId: String(k) });
    for (const input of process.inputs) edges.push([`in:${input.id}`, 'step:tool']);
  }
  for (const output of process.outputs) {
    nodes.push({ id: `out:${output.id}`, kind: 'output', label: output.id, scattered: false, subworkflow: false });
    if (process.class !== 'Workflow') edges.push(['step:tool', `out:${output.id}`]);
    else for (const source of output.outputSource) edges.push([nodeOfSource(source), `out:${output.id}`]);
  }
  const known = new Set(nodes.map((n) => n.id));
  return { nodes, edges: dedupe(edges.filter(([from, to]) => known.has(from) && known.has(to))) };
}

function dedupe(edges: [string, string][]): [string, string][] {
  const seen = new Set<string>();
  return edges.filter((edge) => {
    const key = edge.join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
