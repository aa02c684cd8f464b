// A run: state and timings, task counts by state, outputs (downloaded through fetch: they need
// the key), cancel, and the task table on keyset pages with a jump to a task id. Refreshed live
// until the run has ended; the task table only on request, so a 1,000,000-task run costs one page.
import { download, FINAL, getJson, post, runPath } from './api.js';
import { announce, duration, h, show, stateBadge, time } from './dom.js';
import { drawGraph } from './workflow-graph.js';

const REFRESH_MS = 2000;
const TASK_STATES = ['complete', 'running', 'queued', 'failed', 'skipped', 'canceled', 'none'];

function outputList(outputs) {
  const items = [];
  const visit = (name, value) => {
    if (Array.isArray(value)) return value.forEach((v, i) => visit(`${name}[${i}]`, v));
    if (value && typeof value === 'object' && value.class === 'File' && value.location) {
      items.push(h('li', {}, h('span.mono', {}, name), ' ',
        h('button.link', { type: 'button', onclick: () => download(value.location, value.basename ?? 'output') }, value.basename ?? value.location),
        value.size !== undefined ? ` (${value.size} bytes)` : ''));
      return;
    }
    if (value && typeof value === 'object' && value.class === undefined) return Object.entries(value).forEach(([k, v]) => visit(`${name}.${k}`, v));
    items.push(h('li', {}, h('span.mono', {}, name), ' = ', h('code', {}, JSON.stringify(value))));
  };
  for (const [name, value] of Object.entries(outputs)) visit(name, value);
  return items.length === 0 ? h('p', {}, 'No outputs (yet).') : h('ul.outputs', {}, items);
}

function taskTable(runId) {
  const body = h('tbody');
  const pageSize = h('select', { id: 'task-page-size' }, [50, 100, 500].map((n) => h('option', { value: n }, String(n))));
  const status = h('span', { 'aria-live': 'polite' });
  const pager = h('div.pager');
  const jump = h('input', { id: 'jump-task', placeholder: 'e.g. 3.1200', size: 12 });
  const tokens = [''];

  async function load() {
    const query = new URLSearchParams({ page_size: pageSize.value });
    if (tokens.at(-1)) query.set('page_token', tokens.at(-1));
    const page = await getJson(runPath(runId, `/tasks?${query}`));
    body.replaceChildren(...page.task_logs.map((task) =>
      h('tr', {},
        h('td', {}, h('a.mono', { href: `#${runPath(runId, `/tasks/${encodeURIComponent(task.id)}`)}` }, task.id)),
        h('td', {}, task.name),
        h('td', {}, h(`span.badge.task-${task.state}`, {}, task.state)),
        h('td', {}, task.exit_code ?? '—'),
        h('td', {}, time(task.start_time)),
        h('td', {}, duration(task.start_time, task.end_time)))));
    status.textContent = `Page ${tokens.length}: tasks ${page.task_logs[0]?.id ?? '–'} to ${page.task_logs.at(-1)?.id ?? '–'}`;
    pager.replaceChildren(
      h('button', { type: 'button', disabled: tokens.length === 1, onclick: () => { tokens.pop(); load(); } }, '← Previous'),
      status,
      h('button', { type: 'button', disabled: page.next_page_token === '', onclick: () => { tokens.push(page.next_page_token); load(); } }, 'Next →'),
    );
  }
  pageSize.addEventListener('change', () => { tokens.splice(1); load(); });
  const jumpForm = h('form.filters', {
    onsubmit: (event) => {
      event.preventDefault();
      if (jump.value.trim()) location.hash = `#${runPath(runId, `/tasks/${encodeURIComponent(jump.value.trim())}`)}`;
    },
  }, h('label', { for: 'task-page-size' }, 'Tasks per page'), pageSize, h('label', { for: 'jump-task' }, 'Go to task id'), jump, h('button', { type: 'submit' }, 'Go'));
  const section = h('section', { 'aria-labelledby': 'tasks-heading' },
    h('h2', { id: 'tasks-heading' }, 'Tasks'), jumpForm,
    h('div.scroll', {}, h('table', {}, h('thead', {}, h('tr', {}, ['Task', 'Name', 'State', 'Exit', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))), body)),
    pager);
  return { section, load };
}

export async function runView(runId) {
  const header = h('div');
  const counts = h('div.counts');
  const outputs = h('section', { 'aria-labelledby': 'outputs-heading' });
  const tasks = taskTable(runId);
  let timer;
  let lastState;

  async function refresh() {
    const [run, taskCounts] = await Promise.all([getJson(runPath(runId)), getJson(runPath(runId, '/task-counts'))]);
    const final = FINAL.includes(run.state);
    header.replaceChildren(
      h('h1', {}, 'Run ', h('span.mono', {}, runId)),
      h('dl.facts', {},
        h('dt', {}, 'State'), h('dd', {}, stateBadge(run.state), run.run_log.exit_code !== undefined ? ` exit code ${run.run_log.exit_code}` : ''),
        h('dt', {}, 'Workflow'), h('dd.mono', {}, run.request.workflow_url),
        h('dt', {}, 'Started'), h('dd', {}, time(run.run_log.start_time)),
        h('dt', {}, 'Ended'), h('dd', {}, time(run.run_log.end_time)),
        h('dt', {}, 'Duration'), h('dd', {}, duration(run.run_log.start_time, run.run_log.end_time)),
        h('dt', {}, 'Tags'), h('dd', {}, Object.entries(run.request.tags ?? {}).map(([k, v]) => h('span.tag', {}, `${k}=${v}`)))),
      (run.run_log.system_logs ?? []).map((line) => h('p.error', {}, line)),
      h('div.actions', {},
        final ? null : h('button.danger', { type: 'button', id: 'cancel-run', onclick: async () => { await post(runPath(runId, '/cancel')); announce('Cancel requested'); refresh(); } }, 'Cancel run'),
        h('a', { href: `#${runPath(runId, '/tasks/log')}` }, 'Engine log')),
    );
    counts.replaceChildren(h('h2', {}, 'Task counts'), h('ul.count-list', { 'aria-label': 'Tasks by state' },
      h('li', {}, `total ${taskCounts.total}`),
      TASK_STATES.filter((s) => taskCounts.states[s]).map((s) => h(`li.task-${s}`, {}, `${s} ${taskCounts.states[s]}`))));
    outputs.replaceChildren(h('h2', { id: 'outputs-heading' }, 'Outputs'), outputList(run.outputs));
    // The shown task page follows the run while it is active, and once more when it ends.
    if (!final || run.state !== lastState) await tasks.load();
    if (run.state !== lastState) announce(`Run ${run.state}`);
    lastState = run.state;
    if (final) clearInterval(timer);
  }
  const graph = h('section', { 'aria-labelledby': 'graph-heading' }, h('h2', { id: 'graph-heading' }, 'Workflow'));
  show(header, graph, counts, outputs, tasks.section);
  getJson(runPath(runId, '/workflow-graph'))
    .then((g) => graph.append(h('div.graph-box', {}, drawGraph(g, (taskId) => `#${runPath(runId, `/tasks/${encodeURIComponent(taskId)}`)}`))))
    .catch((error) => graph.append(h('p', {}, `No graph: ${error.message}`)));
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
