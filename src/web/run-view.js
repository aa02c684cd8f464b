// A run: state and timings, task counts by state (each a link filtering the task table), the
// slowest steps and the failure groups, outputs (downloaded through fetch: they need the key),
// cancel, and the task table on keyset pages — all tasks, one state, one failure group, the
// slowest or largest first, or from a given task — with the filter in the URL (#/runs/<id>?state=failed)
// so it can be shared. Refreshed live until the run has ended; every part costs one page or a
// few counter rows, so a 1,000,000-task run costs what a small one does.
import { download, FINAL, getJson, post, runPath } from './api.js';
import { announce, duration, h, show, stateBadge, time } from './dom.js';
import { drawGraph } from './workflow-graph.js';
import { bytes, countList, failureGroups, runHref, seconds, slowestSteps } from './run-insights.js';

const REFRESH_MS = 2000;
/** The task-table query parameters a run page URL may carry. */
const TABLE_FILTERS = ['state', 'failure_group', 'sort', 'from'];

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

function filterLabel(filter) {
  if (filter.state) return `tasks in state ${filter.state}`;
  if (filter.failure_group) return 'the tasks of one failure group';
  if (filter.sort === '-duration') return 'the slowest tasks first';
  if (filter.sort === '-max_rss') return 'the tasks using most memory first';
  if (filter.from) return `tasks from ${filter.from} on`;
  return undefined;
}

function taskTable(runId, filter) {
  const body = h('tbody', { id: 'task-rows' });
  const pageSize = h('select', { id: 'task-page-size' }, [50, 100, 500].map((n) => h('option', { value: n }, String(n))));
  const status = h('span', { 'aria-live': 'polite' });
  const pager = h('div.pager');
  const jump = h('input', { id: 'jump-task', placeholder: 'e.g. 3.1200', size: 12 });
  const tokens = [''];

  async function load() {
    const query = new URLSearchParams({ page_size: pageSize.value, ...filter });
    if (tokens.at(-1)) query.set('page_token', tokens.at(-1));
    const page = await getJson(runPath(runId, `/tasks?${query}`));
    body.replaceChildren(...page.task_logs.map((task) =>
      h('tr', {},
        h('td', {}, h('a.mono', { href: `#${runPath(runId, `/tasks/${encodeURIComponent(task.id)}`)}` }, task.id)),
        h('td', {}, task.name),
        h('td', {}, h(`span.badge.task-${task.state}`, {}, task.state)),
        h('td', {}, task.exit_code ?? '—'),
        h('td', {}, time(task.start_time)),
        h('td', {}, duration(task.start_time, task.end_time)),
        h('td', {}, seconds(task.resources?.cpu_seconds)),
        h('td', {}, bytes(task.resources?.max_rss_bytes)))));
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
      const id = jump.value.trim();
      if (!id) return;
      // "Open" shows the task; "List from here" starts the table at it (keeping a state filter).
      if (event.submitter?.id === 'list-from-task') location.hash = runHref(runId, { ...(filter.state ? { state: filter.state } : {}), from: id });
      else location.hash = `#${runPath(runId, `/tasks/${encodeURIComponent(id)}`)}`;
    },
  }, h('label', { for: 'task-page-size' }, 'Tasks per page'), pageSize, h('label', { for: 'jump-task' }, 'Task id'), jump,
  h('button', { type: 'submit', id: 'open-task' }, 'Open'), h('button', { type: 'submit', id: 'list-from-task' }, 'List from here'));
  const label = filterLabel(filter);
  const section = h('section', { 'aria-labelledby': 'tasks-heading' },
    h('h2', { id: 'tasks-heading' }, 'Tasks'),
    label === undefined ? null : h('p.hint', { id: 'task-filter' }, `Showing ${label}. `, h('a', { href: runHref(runId) }, 'Show all tasks')),
    jumpForm,
    h('div.scroll', {}, h('table', {}, h('thead', {}, h('tr', {}, ['Task', 'Name', 'State', 'Exit', 'Started', 'Duration', 'CPU', 'Peak memory'].map((c) => h('th', { scope: 'col' }, c)))), body)),
    pager);
  return { section, load };
}

export async function runView(runId, params = new URLSearchParams()) {
  const filter = Object.fromEntries(TABLE_FILTERS.filter((name) => params.get(name)).map((name) => [name, params.get(name)]));
  const header = h('div');
  const counts = h('div.counts');
  const slowest = h('div');
  const failures = failureGroups(runId);
  const outputs = h('section', { 'aria-labelledby': 'outputs-heading' });
  const tasks = taskTable(runId, filter);
  let timer;
  let lastState;

  async function refresh() {
    const [run, summary] = await Promise.all([getJson(runPath(runId)), getJson(runPath(runId, '/task-summary'))]);
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
    counts.replaceChildren(h('h2', {}, 'Task counts'), countList(runId, summary, filter.state));
    slowest.replaceChildren(slowestSteps(runId, summary));
    if (summary.states.failed) await failures.load();
    outputs.replaceChildren(h('h2', { id: 'outputs-heading' }, 'Outputs'), outputList(run.outputs));
    // The shown task page follows the run while it is active, and once more when it ends.
    if (!final || run.state !== lastState) await tasks.load();
    if (run.state !== lastState) announce(`Run ${run.state}`);
    lastState = run.state;
    if (final) clearInterval(timer);
  }
  const graph = h('section', { 'aria-labelledby': 'graph-heading' }, h('h2', { id: 'graph-heading' }, 'Workflow'));
  show(header, graph, counts, failures.section, slowest, outputs, tasks.section);
  getJson(runPath(runId, '/workflow-graph'))
    .then((g) => graph.append(h('div.graph-box', {}, drawGraph(g, (taskId) => `#${runPath(runId, `/tasks/${encodeURIComponent(taskId)}`)}`))))
    .catch((error) => graph.append(h('p', {}, `No graph: ${error.message}`)));
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
