/** What tests of a job's network use: this machine's own address, a server there, and a program that tries to connect. */
import type { TestContext } from 'node:test';
import net from 'node:net';
import os from 'node:os';

/** The first IPv4 address of this machine that is not loopback: what `hostname -I` shows first. */
export function machineAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((each) => each !== undefined && each.family === 'IPv4' && !each.internal)?.address;
}

/** A TCP server on every address of this machine that greets each connection; resolves to its port. */
export async function greeter(t: TestContext, greeting: string): Promise<number> {
  const server = net.createServer((socket) => socket.end(`${greeting}\n`));
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/**
 * Python that tries each "host:port" of `targets` (5 s each) and prints one "<host:port>
 * connected <greeting>" or "<host:port> blocked <error>" line each.
 */
export function connectProgram(targets: readonly string[]): string {
  return `import socket
for target in ${JSON.stringify(targets)}:
    host, port = target.rsplit(':', 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
        print(target, 'connected', s.recv(100).decode().strip())
    except OSError as e:
        print(target, 'blocked', e)
`;
}
