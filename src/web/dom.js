// Small DOM helpers: elements are built with textContent only, so no server text is ever parsed as HTML.

/** h('tag.class', {attr: value, onclick: fn}, children…) */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length > 0) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** Replaces the main view and moves focus there (screen readers hear the new page). */
export function show(...children) {
  const view = document.getElementById('view');
  view.replaceChildren(...children);
  view.focus({ preventScroll: true });
}

export function announce(text) {
  document.getElementById('announce').textContent = text;
}

export function stateBadge(state) {
  return h(`span.badge.state-${String(state).toLowerCase()}`, {}, state);
}

export function time(iso) {
  return iso ? h('time', { datetime: iso }, iso.replace('T', ' ').replace('Z', ' UTC')) : '—';
}

export function duration(start, end) {
  if (!start) return '—';
  const s = Math.max(0, Math.round(((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}
