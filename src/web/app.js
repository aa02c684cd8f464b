// The dashboard's router: #/runs, #/submit, #/runs/<id>[?state=…|failure_group=…|sort=…|from=…], #/runs/<id>/tasks/<task>. Each view
// renders into <main> and may return a stop() that the next navigation calls (live refresh).
import { ApiError, getJson, session } from './api.js';
import { h, show } from './dom.js';
import { runsView } from './runs-view.js';
import { submitView } from './submit-view.js';
import { runView } from './run-view.js';
import { taskView } from './task-view.js';

let stopCurrent = () => {};
let authNeeded = true;

function signInView(message) {
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true });
  const form = h(
    'form.card',
    {
      onsubmit: async (event) => {
        event.preventDefault();
        session.key = input.value.trim();
        try {
          await getJson('/runs?page_size=1');
          route();
        } catch (error) {
          session.key = '';
          signInView(error.message);
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste an API key (from "wes user add" or "wes key create"). It is kept for this tab only.'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    message ? h('p.error', { role: 'alert' }, message) : null,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  show(form);
  input.focus();
}

async function route() {
  stopCurrent();
  stopCurrent = () => {};
  document.getElementById('sign-out').hidden = !authNeeded || !session.key;
  if (authNeeded && !session.key) return signInView();
  const hash = location.hash.replace(/^#\/?/, '');
  const queryAt = hash.indexOf('?');
  const parts = (queryAt < 0 ? hash : hash.slice(0, queryAt)).split('/').map(decodeURIComponent);
  const params = new URLSearchParams(queryAt < 0 ? '' : hash.slice(queryAt + 1));
  try {
    if (parts[0] === 'submit') stopCurrent = (await submitView()) ?? stopCurrent;
    else if (parts[0] === 'runs' && parts[1] && parts[2] === 'tasks' && parts[3]) stopCurrent = (await taskView(parts[1], parts.slice(3).join('/'))) ?? stopCurrent;
    else if (parts[0] === 'runs' && parts[1]) stopCurrent = (await runView(parts[1], params)) ?? stopCurrent;
    else stopCurrent = (await runsView()) ?? stopCurrent;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session.key = '';
      return signInView(error.message);
    }
    show(h('p.error', { role: 'alert' }, error.message));
  }
}

async function start() {
  const info = await getJson('/service-info');
  authNeeded = info.tags?.auth !== 'none';
  document.getElementById('sign-out').addEventListener('click', () => {
    session.key = '';
    route();
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
