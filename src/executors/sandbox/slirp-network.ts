/**
 * A private network namespace per NetworkAccess job, connected to outside networks through
 * slirp4netns (user-mode TCP/IP: the job's packets leave as ordinary sockets of the slirp
 * process). `--disable-host-loopback` makes the host's 127.0.0.1 unreachable from inside, so a
 * job reaches the internet but never the server's loopback services (the API, PostgreSQL).
 * The namespace is created with `ip netns add` so that slirp4netns is attached and the
 * interface is up before the job's first instruction; the job enters it with nsenter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isStaleName } from './stale-name.js';
import { errorMessage } from '../../errors.js';

const run = promisify(execFile);
/** slirp4netns's guest side: 10.0.2.100, gateway 10.0.2.2, DNS forwarder 10.0.2.3. */
export const SLIRP_NAMESERVER = '10.0.2.3';
const READY_TIMEOUT_MS = 10_000;
/** Brings tap0 up with the large MTU, and keeps the host's 127.0.0.1 out of the job's reach. */
export const SLIRP_OPTIONS = ['--configure', '--mtu=65520', '--disable-host-loopback'] as const;

export interface JobNetwork {
  /** Path of the namespace to enter (`nsenter --net=<path>`). */
  readonly path: string;
  /** Stops slirp4netns and deletes the namespace; never rejects. */
  remove(): Promise<void>;
}

export class SlirpNetworks {
  readonly #prefix: string;
  #next = 0;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Whether `ip` and `slirp4netns` can be run, as root (`ip netns add` needs it). */
  static async available(): Promise<boolean> {
    if (process.getuid?.() !== 0) return false;
    try {
      await run('slirp4netns', ['--version']);
      await run('ip', ['-V']);
      return true;
    } catch {
      return false;
    }
  }

  async create(): Promise<JobNetwork> {
    const name = `${this.#prefix}-${process.pid}-${this.#next++}`;
    const nsPath = `/run/netns/${name}`;
    await run('ip', ['netns', 'add', name]);
    let slirp: ChildProcess | undefined;
    const remove = async (): Promise<void> => {
      if (slirp !== undefined && slirp.exitCode === null && slirp.signalCode === null) {
        const exited = new Promise((resolve) => slirp?.once('exit', resolve));
        slirp.kill('SIGKILL');
        await exited;
      }
      await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    };
    try {
      slirp = spawn(
        'slirp4netns',
        // fd 4 stays open as long as this server lives: slirp4netns exits when it closes.
        [...SLIRP_OPTIONS, '--ready-fd=3', '--exit-fd=4', '--netns-type=path', nsPath, 'tap0'],
        { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
      );
      await ready(slirp);
    } catch (err) {
      await remove();
      throw new Error(`cannot set up the job's network (slirp4netns): ${errorMessage(err)}`);
    }
    return { path: nsPath, remove };
  }

  /** Deletes namespaces servers with this prefix left when they died (their slirp died with them). */
  async reapStale(): Promise<void> {
    const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
    const names = stdout.split('\n').map((line) => line.split(' ')[0]).filter((name) => isStaleName(name, this.#prefix));
    for (const name of names) await run('ip', ['netns', 'delete', name]).catch(() => undefined);
  }
}

/** Resolves when slirp4netns writes to its ready fd (the interface is configured). */
function ready(slirp: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const stderr: string[] = [];
    slirp.stdio[2]?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const timer = setTimeout(() => reject(new Error('not ready in time')), READY_TIMEOUT_MS);
    slirp.stdio[3]?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    slirp.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    slirp.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${stderr.join('').trim()}`));
    });
  });
}
