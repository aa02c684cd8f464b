// The runs list: newest first, keyset pages (a stack of tokens for "previous"), filters by state and tag, refreshed live.
import { getJson, runPath, STATES } from './api.js';
import { duration, h, show, stateBadge, time } from './dom.js';

const REFRESH_MS = 5000;

export async function runsView() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const state = h('select', { id: 'filter-state', name: 'state' }, h('option', { value: '' }, 'any'), STATES.map((s) => h('option', { value: s, selected: params.get('state') === s }, s)));
  const tag = h('input', { id: 'filter-tag', name: 'tag', placeholder: 'name=value', value: params.get('tag') ?? '' });
  const body = h('tbody');
  const pager = h('div.pager');
  const tokens = [''];
  let timer;

  async function load() {
    const query = new URLSearchParams({ page_size: '20' });
    if (tokens.at(-1)) query.set('page_token', tokens.at(-1));
    if (state.value) query.set('state', state.value);
    if (tag.value.trim()) query.set('tags', tag.value.trim());
    const page = await getJson(`/runs?${query}`);
    body.replaceChildren(
      ...(page.runs.length === 0
        ? [h('tr', {}, h('td', { colspan: 5 }, 'No runs.'))]
        : page.runs.map((run) =>
            h(
              'tr',
              {},
              h('td', {}, h('a.mono', { href: `#${runPath(run.run_id)}` }, run.run_id)),
              h('td', {}, stateBadge(run.state)),
              h('td', {}, time(run.start_time)),
              h('td', {}, duration(run.start_time, run.end_time)),
              h('td', {}, Object.entries(run.tags ?? {}).map(([k, v]) => h('span.tag', {}, `${k}=${v}`))),
            ),
          )),
    );
    pager.replaceChildren(
      h('button', { type: 'button', disabled: tokens.length === 1, onclick: () => { tokens.pop(); load(); } }, '← Newer'),
      h('button', { type: 'button', disabled: page.next_page_token === '', onclick: () => { tokens.push(page.next_page_token); load(); } }, 'Older →'),
    );
  }

  const filters = h(
    'form.filters',
    { onsubmit: (event) => { event.preventDefault(); tokens.splice(1); load(); } },
    h('label', { for: 'filter-state' }, 'State'), state,
    h('label', { for: 'filter-tag' }, 'Tag'), tag,
    h('button', { type: 'submit' }, 'Filter'),
  );
  show(
    h('h1', {}, 'Runs'),
    filters,
    h('div.scroll', {}, h('table', {}, h('caption.visually-hidden', {}, 'Your runs, newest first'),
      h('thead', {}, h('tr', {}, ['Run', 'State', 'Started', 'Duration', 'Tags'].map((c) => h('th', { scope: 'col' }, c)))), body)),
    pager,
  );
  await load();
  timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
