/**
 * The base URL of absolute links (task_logs_url, stdout/stderr, output files). A client must
 * not be able to plant another host in them through the Host header: the configured public URL
 * wins; without one the Host header is used only when it names the address the connection
 * arrived at (or a loopback name for a loopback connection) or an operator-trusted host, and
 * links otherwise point at the address the connection arrived at.
 */
import type { FastifyRequest } from 'fastify';

export interface LinkOptions {
  /** WES_PUBLIC_URL: the base of every link when set. */
  readonly publicUrl?: string;
  /** WES_TRUSTED_HOSTS: Host headers (host or host:port) links may name. */
  readonly trustedHosts: readonly string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `host:port`, lower-case, with the protocol's default port when none is given. */
function withPort(host: string, protocol: string): string {
  const lower = host.toLowerCase();
  return /:\d+$/.test(lower) ? lower : `${lower}:${protocol === 'https' ? 443 : 80}`;
}

function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** The address as it goes in a URL, IPv6 in brackets. */
function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function baseUrlOf(request: FastifyRequest, links: LinkOptions): string {
  if (links.publicUrl !== undefined) return links.publicUrl;
  const { protocol } = request;
  // An injected request (tests) has no local address: it is treated as a loopback connection.
  // IPv4-mapped IPv6 addresses (a dual-stack listener) count as the plain IPv4 address.
  const localAddress = request.socket.localAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const localPort = request.socket.localPort ?? (protocol === 'https' ? 443 : 80);
  const local = `${localAddress === undefined ? 'localhost' : urlHost(localAddress)}:${localPort}`;
  const accepted = new Set([local, ...links.trustedHosts.map((h) => withPort(h, protocol))]);
  if (localAddress === undefined || isLoopbackAddress(localAddress)) {
    for (const name of LOOPBACK_NAMES) accepted.add(`${name}:${localPort}`);
  }
  const host = request.host;
  return accepted.has(withPort(host, protocol)) ? `${protocol}://${host}` : `${protocol}://${local}`;
}
