/**
 * http(s) File inputs. The host check refuses names that resolve to loopback, link-local,
 * private or unspecified addresses (unless the operator allows them), and the download
 * connects to the very address that was checked, so a second DNS answer (rebinding) cannot
 * lead it elsewhere; every redirect is checked again. Downloads land in the run's directory
 * before the first job starts, within a size limit and an idle timeout.
 */
import { createWriteStream } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import { resolveFileValues } from '../values/file-values.js';
import { isFileLike, isObject } from '../values/value-types.js';

/** An http(s) input that is refused or cannot be downloaded; the message names the URL, never a server path. */
export class RemoteInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteInputError';
  }
}

const IDLE_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

const notPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3], // multicast and reserved, broadcast
] as const) {
  notPublic.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127], // unspecified and loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  notPublic.addSubnet(network, prefix, 'ipv6');
}

function isPublic(address: string, family: number): boolean {
  // IPv4 addresses written as IPv6 (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  try {
    if (mapped !== null) return !notPublic.check(mapped[1], 'ipv4');
    return !notPublic.check(address, family === 6 ? 'ipv6' : 'ipv4');
  } catch {
    return false; // an address BlockList cannot read (e.g. with a zone id) is not trusted
  }
}

/** The URL as messages show it: no credentials, no query. */
function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The address to connect to for `url`; RemoteInputError when the name does not resolve or any address is refused. */
export async function checkRemoteHost(url: URL, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = await lookup(host, { all: true, verbatim: true }).catch(() => {
    throw new RemoteInputError(`host ${host} cannot be resolved`);
  });
  if (addresses.length === 0) throw new RemoteInputError(`host ${host} cannot be resolved`);
  if (!allowPrivate) {
    const refused = addresses.find((a) => !isPublic(a.address, a.family));
    if (refused !== undefined) {
      throw new RemoteInputError(`host ${host} has the loopback, link-local or private address ${refused.address} (WES_ALLOW_PRIVATE_INPUT_URLS)`);
    }
  }
  return addresses[0];
}

export interface DownloadLimits {
  readonly maxInputBytes: number;
  readonly allowPrivateInputUrls: boolean;
}

/**
 * The input object with every http(s) File downloaded under `dir` (one numbered directory per
 * file, so names never collide) and described as a local file. A file already there from an
 * earlier attempt of the run is reused.
 */
export async function downloadRemoteInputs(inputs: CwlObject, dir: string, limits: DownloadLimits, signal: AbortSignal): Promise<CwlObject> {
  let count = 0;
  const visit = async (value: CwlValue, where: string): Promise<CwlValue> => {
    if (Array.isArray(value)) {
      const out: CwlValue[] = [];
      for (const v of value) out.push(await visit(v, where));
      return out;
    }
    if (!isObject(value)) return value;
    const out: CwlObject = {};
    for (const [key, v] of Object.entries(value)) out[key] = await visit(v, where);
    if (!isFileLike(value) || value.class !== 'File' || typeof value.location !== 'string' || !/^https?:/i.test(value.location)) return out;
    const url = new URL(value.location);
    const target = join(dir, String(count++), fileNameOf(url));
    if (!(await stat(target).then((s) => s.isFile(), () => false))) {
      await mkdir(join(target, '..'), { recursive: true });
      await download(url, target, limits, signal).catch((error: unknown) => {
        if (error instanceof RemoteInputError) throw new RemoteInputError(`${where}: cannot download ${describeUrl(url)}: ${error.message}`);
        throw error;
      });
    }
    const { path: _path, dirname: _dirname, ...rest } = out;
    return resolveFileValues({ ...rest, location: pathToFileURL(target).href }, pathToFileURL(`${dir}/`).href);
  };
  const out: CwlObject = {};
  for (const [key, value] of Object.entries(inputs)) out[key] = await visit(value, `inputs.${key}`);
  return out;
}

/** The URL's last path segment as a plain file name. */
function fileNameOf(url: URL): string {
  const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    name = segment;
  }
  return name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name) || Buffer.byteLength(name) > 255 ? 'download' : name;
}

async function download(url: URL, target: string, limits: DownloadLimits, signal: AbortSignal): Promise<void> {
  let current = url;
  for (let redirects = 0; ; redirects++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new RemoteInputError(`redirected to a ${current.protocol} URL`);
    const address = await checkRemoteHost(current, limits.allowPrivateInputUrls);
    const response = await get(current, address, signal);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
      response.resume();
      if (redirects === MAX_REDIRECTS) throw new RemoteInputError(`more than ${MAX_REDIRECTS} redirects`);
      current = new URL(location, current);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new RemoteInputError(`the server answered HTTP ${status}`);
    }
    await save(response, target, limits.maxInputBytes, signal);
    return;
  }
}

function get(url: URL, address: { address: string; family: number }, signal: AbortSignal): Promise<http.IncomingMessage> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      {
        host: address.address,
        family: address.family,
        port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
        path: `${url.pathname}${url.search}`,
        headers: { host: url.host, 'user-agent': 'wes-server' },
        // The certificate is checked against the name in the URL, not the address connected to.
        ...(secure && isIP(host) === 0 ? { servername: host } : {}),
        agent: false,
        signal,
      },
      resolve,
    );
    request.setTimeout(IDLE_TIMEOUT_MS, () => request.destroy(new RemoteInputError(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    request.on('error', (error) => reject(error instanceof RemoteInputError || signal.aborted ? error : new RemoteInputError(error.message)));
    request.end();
  });
}

async function save(response: http.IncomingMessage, target: string, maxBytes: number, signal: AbortSignal): Promise<void> {
  const tooLarge = new RemoteInputError(`larger than the server's limit of ${maxBytes} bytes (WES_MAX_INPUT_BYTES)`);
  if (Number(response.headers['content-length'] ?? 0) > maxBytes) {
    response.destroy();
    throw tooLarge;
  }
  let received = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback(received > maxBytes ? tooLarge : null, chunk);
    },
  });
  const partial = `${target}.part`;
  let failure: unknown;
  response.socket?.once('timeout', () => (failure = new RemoteInputError(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
  try {
    await pipeline(response, limit, createWriteStream(partial, { mode: 0o600 }), { signal });
  } catch (error) {
    await rm(partial, { force: true });
    if (signal.aborted) throw error;
    throw failure ?? (error instanceof RemoteInputError ? error : new RemoteInputError((error as Error).message));
  }
  await rename(partial, target);
}
