/**
 * Operator hygiene (issue 6), against `wes serve` as a real process and the real `wes` admin
 * commands on its store: revoked keys and disabled users are refused with the next request,
 * failed authentication is rate limited per address without locking out valid keys, every
 * response carries the security headers, data files are private to the server's user, stale
 * upload staging is removed on start, links never name an untrusted Host header, and page
 * tokens show nothing of what they hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.js';
import { assertMatchesSpec } from '../helpers/spec.js';
import { ECHO_TOOL } from '../helpers/multipart.js';

const WES = path.resolve('bin/wes.js');
const API = '/ga4gh/wes/v1';
const FAILURE_LIMIT = 3;
const execFileAsync = promisify(execFile);

function envFor(database: TestDatabase): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WES_DATA_DIR: database.dataDir,
    WES_MAX_JOBS: '2',
    WES_AUTH_FAILURE_LIMIT: String(FAILURE_LIMIT),
    WES_TRUSTED_HOSTS: 'wes.trusted.example',
  };
  delete env.WES_PUBLIC_URL;
  if (database.databaseUrl !== undefined) env.DATABASE_URL = database.databaseUrl;
  else delete env.DATABASE_URL;
  return env;
}

function wes(database: TestDatabase, args: string[]): Promise<{ stdout: string }> {
  return execFileAsync(process.execPath, [WES, ...args], { env: envFor(database) });
}

interface Server {
  readonly process: ChildProcess;
  readonly url: string;
  readonly adminKey: string;
}

async function startServer(database: TestDatabase): Promise<Server> {
  const child = spawn(process.execPath, [WES, 'serve', '--port', '0'], { env: envFor(database), stdio: ['ignore', 'pipe', 'inherit'] });
  const output: string[] = [];
  const { url, adminKey } = await new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output.push(chunk);
      const text = output.join('');
      const listening = /wes-server listening on (http:\/\/[^/\s]+)/.exec(text);
      const key = /\n\s+(wes_\S+)\n/.exec(text);
      if (listening !== null && key !== null) resolve({ url: listening[1], adminKey: key[1] });
    });
    child.once('exit', (code) => reject(new Error(`wes serve exited with ${code}: ${output.join('')}`)));
  });
  return { process: child, url, adminKey };
}

async function stopServer(server: Server): Promise<void> {
  if (server.process.exitCode !== null) return;
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  await exited;
}

function get(server: Server, url: string, key?: string): Promise<Response> {
  return fetch(`${server.url}${API}${url}`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
}

async function submitEcho(server: Server, key: string): Promise<string> {
  const form = new FormData();
  form.append('workflow_type', 'CWL');
  form.append('workflow_type_version', 'v1.2');
  form.append('workflow_url', 'echo.cwl');
  form.append('workflow_params', JSON.stringify({ message: 'hello' }));
  form.append('workflow_attachment', new Blob([ECHO_TOOL]), 'echo.cwl');
  const response = await fetch(`${server.url}${API}/runs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { run_id: string }).run_id;
}

async function waitComplete(server: Server, key: string, runId: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { state } = (await (await get(server, `/runs/${runId}/status`, key)).json()) as { state: string };
    if (state === 'COMPLETE') return;
    assert.ok(!['EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'].includes(state), state);
    await delay(100);
  }
  throw new Error(`run ${runId} did not complete`);
}

/** A GET with a Host header of our choosing (fetch does not let a caller set Host). */
function getWithHost(server: Server, url: string, key: string, host: string): Promise<string> {
  const target = new URL(`${server.url}${API}${url}`);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { hostname: target.hostname, port: target.port, path: target.pathname, headers: { host, authorization: `Bearer ${key}` } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      },
    );
    request.once('error', reject);
    request.end();
  });
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? [full, ...walk(full)] : [full];
  });
}

test('operator controls, rate limits, headers, file modes, staging cleanup, links and page tokens', async (t) => {
  const database = await createTestDatabase();
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) await stopServer(server);
    await database.drop();
  });
  // An upload a previous server never finished (made with that server's modes: existing
  // files are covered by the data directory's 0700, new ones are created private).
  const stale = path.join(database.dataDir, 'runs', '.incoming-stale1');
  fs.mkdirSync(path.join(stale, 'attachments'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(stale, 'attachments', 'half.cwl'), 'cwlVer');

  const server = await startServer(database);
  servers.push(server);
  assert.equal(fs.existsSync(stale), false, 'the stale staging directory survived the start');

  const added = await wes(database, ['user', 'add', 'alice']);
  const firstKey = added.stdout.trim().split('\n').pop() ?? '';
  const secondKey = (await wes(database, ['key', 'create', 'alice'])).stdout.trim();

  await t.test('security headers on every response; no-store on authenticated ones', async () => {
    const info = await get(server, '/service-info');
    assert.equal(info.headers.get('x-content-type-options'), 'nosniff');
    for (const response of [await get(server, '/runs', firstKey), await get(server, '/runs', 'wes_wrong'), await get(server, '/runs/none', firstKey)]) {
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    }
  });

  const runId = await submitEcho(server, firstKey);
  await waitComplete(server, firstKey, runId);

  await t.test('logs and output files are served sandboxed', async () => {
    const log = (await (await get(server, `/runs/${runId}`, firstKey)).json()) as { outputs: { out: { location: string } } };
    const output = await fetch(log.outputs.out.location, { headers: { authorization: `Bearer ${firstKey}` } });
    assert.equal(output.status, 200);
    assert.match(output.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.equal(output.headers.get('x-content-type-options'), 'nosniff');
  });

  await t.test('data files are 0600 and directories 0700', () => {
    const entries = [database.dataDir, ...walk(database.dataDir)];
    assert.ok(entries.some((entry) => entry.endsWith('stdout.log') || entry.endsWith('out.txt')), 'the run left no files to check');
    for (const entry of entries) {
      const stat = fs.lstatSync(entry);
      if (stat.isSymbolicLink()) continue;
      const mode = stat.mode & 0o777;
      if (stat.isDirectory()) assert.equal(mode, 0o700, `${entry} is ${mode.toString(8)}`);
      else assert.equal(mode & 0o077, 0, `${entry} is ${mode.toString(8)}`);
    }
  });

  await t.test('links name the Host header only when it is the listening address or trusted', async () => {
    const evil = await getWithHost(server, `/runs/${runId}`, firstKey, 'evil.example');
    assert.equal(evil.includes('evil.example'), false, evil);
    assert.match(evil, new RegExp(`"task_logs_url":"${server.url}/`));
    const tasks = await getWithHost(server, `/runs/${runId}/tasks`, firstKey, 'evil.example:8080');
    assert.equal(tasks.includes('evil.example'), false, tasks);
    const trusted = await getWithHost(server, `/runs/${runId}`, firstKey, 'wes.trusted.example');
    assert.match(trusted, /"task_logs_url":"http:\/\/wes\.trusted\.example\//);
  });

  await t.test('page tokens show no internal id, and a tampered one is a 400', async () => {
    await submitEcho(server, firstKey);
    const page = (await (await get(server, '/runs?page_size=1', firstKey)).json()) as { next_page_token: string };
    assert.notEqual(page.next_page_token, '');
    const decoded = Buffer.from(page.next_page_token, 'base64url').toString('latin1');
    // Any byte may occur in ciphertext; what must not is the text of a payload.
    for (const revealing of ['runs:', runId, '"k"', '"s"', '"v"']) assert.equal(decoded.includes(revealing), false, `token shows ${revealing}`);
    assert.equal(page.next_page_token.includes('.'), false, 'a signed-JSON token');
    const bytes = Buffer.from(page.next_page_token, 'base64url');
    bytes[bytes.length - 1] ^= 1;
    const tampered = await get(server, `/runs?page_size=1&page_token=${bytes.toString('base64url')}`, firstKey);
    assert.equal(tampered.status, 400);
    assertMatchesSpec('ErrorResponse', await tampered.json());
  });

  await t.test('wes key list shows ids, prefixes and states, never a key or a hash', async () => {
    const { stdout } = await wes(database, ['key', 'list', 'alice']);
    for (const key of [firstKey, secondKey]) {
      assert.equal(stdout.includes(key), false);
      assert.ok(stdout.includes(key.slice(0, 12)), stdout);
    }
    assert.equal(/[0-9a-f]{64}/.test(stdout), false, 'a key hash is printed');
    assert.equal(stdout.trim().split('\n').length, 3, stdout);
  });

  await t.test('a revoked key and a disabled user are refused with the next request', async () => {
    assert.equal((await get(server, '/runs', firstKey)).status, 200);
    await wes(database, ['key', 'revoke', firstKey.slice(0, 12)]);
    assert.equal((await get(server, '/runs', firstKey)).status, 401);
    assert.equal((await get(server, '/runs', secondKey)).status, 200);
    assert.match((await wes(database, ['key', 'list', 'alice'])).stdout, /revoked/);
    await wes(database, ['user', 'disable', 'alice']);
    const refused = await get(server, '/runs', secondKey);
    assert.equal(refused.status, 401);
    assertMatchesSpec('ErrorResponse', await refused.json());
  });

  await t.test('failed authentication is limited per address; valid keys still work', async () => {
    // The revoked and disabled attempts above count as failures too: start a fresh window by
    // failing until the limit answers.
    let response = await get(server, '/runs', 'wes_guess');
    for (let i = 0; i < FAILURE_LIMIT + 3 && response.status === 401; i++) response = await get(server, '/runs', `wes_guess${i}`);
    assert.equal(response.status, 429);
    const retryAfter = Number(response.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After ${response.headers.get('retry-after')}`);
    const body = (await response.json()) as { msg: string; status_code: number };
    assert.equal(body.status_code, 429);
    assert.equal(typeof body.msg, 'string');
    assert.equal((await get(server, '/runs')).status, 429, 'a missing key is a failure as well');
    assert.equal((await get(server, '/runs', server.adminKey)).status, 200, 'a valid key from the same address was locked out');
  });
});
