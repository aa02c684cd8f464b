// What a run's counters say, without reading its tasks: the counts per state (each a link that
// filters the task table: a URL to share), the slowest steps, and the failure groups with the
// last line of their stderr. The server keeps these as counters, so they cost the same for ten
// tasks or a million.
import { getJson, runPath } from './api.js';
import { h } from './dom.js';

const TASK_STATES = ['complete', 'running', 'queued', 'failed', 'skipped', 'canceled', 'none'];
const SLOWEST_STEPS = 10;

/** The run page's URL with the task table narrowed by `params` (none: every task). */
export function runHref(runId, params = {}) {
  const query = new URLSearchParams(params).toString();
  return `#${runPath(runId)}${query ? `?${query}` : ''}`;
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function seconds(s) {
  if (s === undefined || s === null) return '—';
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(s < 10 ? 2 : 0)} s`;
}

/** The run's counts per state; the one the table shows is marked current. */
export function countList(runId, summary, activeState) {
  const link = (label, params, current) => h('a', { href: runHref(runId, params), 'aria-current': current ? 'true' : undefined }, label);
  return h('ul.count-list', { 'aria-label': 'Tasks by state' },
    h('li', {}, link(`total ${summary.total}`, {}, activeState === undefined)),
    TASK_STATES.filter((s) => summary.states[s]).map((s) => h(`li.task-${s}`, {}, link(`${s} ${summary.states[s]}`, { state: s }, activeState === s))));
}

/** The run's resource use and its steps by total wall time, with links to the slowest and largest tasks. */
export function slowestSteps(runId, summary) {
  const steps = [...summary.steps].filter((s) => s.jobs_measured > 0 || s.wall_seconds > 0).sort((a, b) => b.wall_seconds - a.wall_seconds).slice(0, SLOWEST_STEPS);
  return h('section', { 'aria-labelledby': 'slowest-heading' },
    h('h2', { id: 'slowest-heading' }, 'Slowest steps'),
    h('p', {},
      `CPU time ${seconds(summary.cpu_seconds)}, peak memory ${bytes(summary.max_rss_bytes)} (${summary.jobs_measured} jobs measured). `,
      h('a', { href: runHref(runId, { sort: '-duration' }) }, 'Slowest tasks'), ' · ',
      h('a', { href: runHref(runId, { sort: '-max_rss' }) }, 'Largest tasks')),
    steps.length === 0
      ? h('p', {}, 'No step has finished jobs yet.')
      : h('div.scroll', {}, h('table', { id: 'slowest-steps' },
          h('thead', {}, h('tr', {}, ['Step', 'Tasks', 'Wall time (sum)', 'CPU time (sum)', 'Peak memory'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, steps.map((s) => h('tr', {},
            h('td', {}, s.step), h('td', {}, s.total), h('td', {}, seconds(s.wall_seconds)), h('td', {}, seconds(s.cpu_seconds)), h('td', {}, bytes(s.max_rss_bytes))))))));
}

/** The run's failure groups, a page at a time: step, exit code, last stderr line, count, first tasks. */
export function failureGroups(runId) {
  const list = h('ul.failure-groups');
  const more = h('button', { type: 'button', hidden: true }, 'More groups');
  const section = h('section', { 'aria-labelledby': 'failures-heading', hidden: true }, h('h2', { id: 'failures-heading' }, 'Failures'), list, more);
  let next = '';

  async function page(token) {
    const query = new URLSearchParams({ page_size: '20', ...(token ? { page_token: token } : {}) });
    const body = await getJson(runPath(runId, `/task-failures?${query}`));
    const items = body.failure_groups.map((g) => h('li', {},
      h('a', { href: runHref(runId, { failure_group: g.id }) }, `${g.count} × ${g.step}`),
      ` exit code ${g.exit_code ?? '—'} `,
      h('code.stderr-tail', {}, g.stderr_tail || '(empty stderr)'),
      ' e.g. ', g.first_task_ids.map((id) => h('a.mono', { href: `#${runPath(runId, `/tasks/${encodeURIComponent(id)}`)}` }, id)).flatMap((a, i) => (i === 0 ? [a] : [', ', a]))));
    if (token) list.append(...items);
    else list.replaceChildren(...items);
    next = body.next_page_token;
    more.hidden = next === '';
    section.hidden = list.children.length === 0;
  }
  more.addEventListener('click', () => page(next));
  return { section, load: () => page('') };
}
