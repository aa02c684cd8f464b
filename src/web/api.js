// The WES API as the dashboard uses it: the key lives in sessionStorage (this tab only) and goes in the Authorization header.
const BASE = '/ga4gh/wes/v1';
const KEY = 'wes-api-key';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY) ?? '';
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

function headers(extra = {}) {
  return session.key ? { authorization: `Bearer ${session.key}`, ...extra } : extra;
}

async function check(response) {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    message = (await response.json()).msg ?? message;
  } catch {
    // not an ErrorResponse
  }
  throw new ApiError(response.status, message);
}

export async function getJson(path) {
  return (await check(await fetch(`${BASE}${path}`, { headers: headers() }))).json();
}

export async function postForm(path, form) {
  return (await check(await fetch(`${BASE}${path}`, { method: 'POST', headers: headers(), body: form }))).json();
}

export async function post(path) {
  return (await check(await fetch(`${BASE}${path}`, { method: 'POST', headers: headers() }))).json();
}

/** Bytes of a log from `from` on (Range), as text; '' when nothing new. */
export async function getText(url, from = 0) {
  const response = await fetch(url, { headers: headers(from > 0 ? { range: `bytes=${from}-` } : {}) });
  if (response.status === 416) return { text: '', size: from };
  await check(response);
  const buffer = await response.arrayBuffer();
  return { text: new TextDecoder().decode(buffer), size: from + buffer.byteLength };
}

/** Downloads an output through fetch (it needs the key), then hands the browser a blob to save. */
export async function download(url, name) {
  const response = await check(await fetch(url, { headers: headers() }));
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

export const runPath = (id, rest = '') => `/runs/${encodeURIComponent(id)}${rest}`;
export const FINAL = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED'];
export const STATES = ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING', 'COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'];
