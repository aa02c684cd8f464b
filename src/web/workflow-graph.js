// Draws a workflow graph (GET /runs/{id}/workflow-graph) as SVG with a simple layered layout
// of our own: each node's layer is its longest path from an input, nodes keep their document
// order within a layer, edges are curves between layers. Scattered steps are drawn stacked,
// subworkflows with a double border; a step links to its task in the task list.
import { svg } from './dom.js';

const NODE_W = 150;
const NODE_H = 34;
const GAP_X = 60;
const GAP_Y = 16;

function layers(graph) {
  const incoming = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const [from, to] of graph.edges) incoming.get(to)?.push(from);
  const layer = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0; // a cycle cannot happen in CWL; stay finite anyway
    visiting.add(id);
    const d = Math.max(-1, ...incoming.get(id).map(depth)) + 1;
    layer.set(id, d);
    return d;
  };
  graph.nodes.forEach((n) => depth(n.id));
  // Outputs go in the last column.
  const last = Math.max(0, ...graph.nodes.filter((n) => n.kind !== 'output').map((n) => layer.get(n.id))) + 1;
  graph.nodes.filter((n) => n.kind === 'output').forEach((n) => layer.set(n.id, last));
  return layer;
}

function clip(text) {
  return text.length > 20 ? `${text.slice(0, 19)}…` : text;
}

export function drawGraph(graph, taskHref) {
  const layer = layers(graph);
  const columns = [];
  for (const node of graph.nodes) (columns[layer.get(node.id)] ??= []).push(node);
  const position = new Map();
  columns.forEach((column, x) => column.forEach((node, y) => position.set(node.id, { x: x * (NODE_W + GAP_X) + 8, y: y * (NODE_H + GAP_Y) + 8 })));
  const width = columns.length * (NODE_W + GAP_X) - GAP_X + 16;
  const height = Math.max(...columns.map((c) => c.length)) * (NODE_H + GAP_Y) - GAP_Y + 16;
  const edges = graph.edges.map(([from, to]) => {
    const a = position.get(from);
    const b = position.get(to);
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    return svg('path', { class: 'edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' });
  });
  const nodes = graph.nodes.map((node) => {
    const { x, y } = position.get(node.id);
    const shapes = [];
    if (node.scattered) shapes.push(svg('rect', { class: `node ${node.kind}`, x: x + 4, y: y - 4, width: NODE_W, height: NODE_H, rx: 6 }));
    shapes.push(svg('rect', { class: `node ${node.kind}${node.subworkflow ? ' subworkflow' : ''}`, x, y, width: NODE_W, height: NODE_H, rx: node.kind === 'step' ? 6 : 17 }));
    shapes.push(svg('text', { x: x + NODE_W / 2, y: y + NODE_H / 2 + 5, 'text-anchor': 'middle' }, clip(node.label)));
    const title = svg('title', {}, `${node.kind} ${node.label}${node.scattered ? ' (scatter)' : ''}${node.subworkflow ? ' (subworkflow)' : ''}`);
    const group = svg('g', {}, title, ...shapes);
    if (node.taskId === undefined) return group;
    // A scattered step is listed as its jobs: link to the first one.
    return svg('a', { href: taskHref(node.scattered ? `${node.taskId}.0` : node.taskId), 'aria-label': `step ${node.label}` }, group);
  });
  const defs = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })));
  return svg('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Workflow graph: ${graph.nodes.filter((n) => n.kind === 'step').length} steps` }, defs, ...edges, ...nodes);
}
