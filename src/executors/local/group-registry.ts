/**
 * A record on disk of the process groups a LocalExecutor has running, so that a server that
 * died without stopping its jobs (a crash, SIGKILL) has them stopped by the next server on its
 * host: job processes lead their own groups and outlive the server otherwise.
 *
 * Several servers may share one data directory (PostgreSQL), so each server process records
 * its groups in a journal of its own, `groups/<host>/<boot id>.<PID namespace>/<pid>/<pid
 * start time>/journal`, and a server only stops the groups of a process that is gone
 * (process-identity.ts) or, when told which servers hold a lease, of one that holds none (frozen
 * or cut off from the database past its lease: its runs are someone else's now).
 */
import { mkdir, open, readdir, readFile, rename, rm, rmdir, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { terminateGroup } from './process-group.js';
import { bootIdOf, currentProcess, processGone, processKey, type ProcessIdentity } from './process-identity.js';

const GROUPS = 'groups';

/** The process keys (processKey) of the servers that hold a lease; asked after the records are listed. */
export type LiveServers = () => Promise<ReadonlySet<string>>;

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

function numeric(names: readonly string[]): number[] {
  return names.filter((name) => /^\d+$/.test(name)).map(Number);
}

/** A server's record: one line per change, `+<pgid>` when a group starts, `-<pgid>` when it is gone. */
const JOURNAL = 'journal';
/** Lines after which the journal is rewritten with only the groups still recorded. */
const COMPACT_AFTER = 10_000;

/** The groups a journal's lines leave recorded. */
function replay(text: string): number[] {
  const recorded = new Set<number>();
  for (const line of text.split('\n')) {
    const match = /^([+-])(\d+)$/.exec(line);
    if (match === null) continue;
    if (match[1] === '+') recorded.add(Number(match[2]));
    else recorded.delete(Number(match[2]));
  }
  return [...recorded];
}

/** The groups a server's directory records: its journal's, and a file per group from servers before the journal. */
async function recordedGroups(dir: string): Promise<number[]> {
  const journal = await readFile(path.join(dir, JOURNAL), 'utf8').catch(() => '');
  return [...new Set([...replay(journal), ...numeric(await list(dir))])];
}

export class GroupRegistry {
  readonly #stateDir: string;
  readonly #own: string;
  /** The open journal (O_APPEND), once the first group is recorded. */
  #journal: FileHandle | undefined;
  #lines = 0;
  /** What the journal records once every queued line is written; its compaction writes this. */
  readonly #recorded = new Set<number>();
  /** Lines waiting for the write in flight; the next write takes them all, in order. */
  #queued: string[] = [];
  /** The write in flight and those after it, settled when the queue is empty. */
  #writing: Promise<void> | undefined;

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
    this.#own = path.join(stateDir, GROUPS, processKey(currentProcess()));
  }

  /**
   * Best effort: lines are appended off the event loop, one write at a time so they stay in
   * order, all the lines queued meanwhile in one write. A synchronous append could wait tens of
   * milliseconds for the journal's last page to finish writeback on a busy disk, and a file per
   * group cost a create and an unlink per job. Without the record only a crash of this process
   * would leave the job behind.
   */
  add(pgid: number): void {
    this.#recorded.add(pgid);
    this.#append(`+${pgid}`);
  }

  remove(pgid: number): void {
    if (!this.#recorded.delete(pgid)) return;
    this.#append(`-${pgid}`);
  }

  #append(line: string): void {
    this.#queued.push(line);
    this.#writing ??= this.#drain().finally(() => {
      this.#writing = undefined;
    });
  }

  async #drain(): Promise<void> {
    while (this.#queued.length > 0) {
      const lines = this.#queued;
      this.#queued = [];
      try {
        if (this.#journal === undefined) {
          await mkdir(this.#own, { recursive: true });
          this.#journal = await open(path.join(this.#own, JOURNAL), 'a');
        }
        await this.#journal.write(`${lines.join('\n')}\n`);
        this.#lines += lines.length;
        if (this.#lines >= COMPACT_AFTER) await this.#compact();
      } catch {
        // See add(): a missing record only matters after a crash.
      }
    }
  }

  /**
   * Replaces the journal, atomically, by one that records only the groups still running. Lines
   * still queued were already applied to that set; written again after it, they change nothing.
   */
  async #compact(): Promise<void> {
    const file = path.join(this.#own, JOURNAL);
    const next = `${file}.next`;
    await writeFile(next, [...this.#recorded].map((pgid) => `+${pgid}\n`).join(''));
    await rename(next, file);
    await this.#closeJournal();
    this.#journal = await open(file, 'a');
    this.#lines = this.#recorded.size;
  }

  /** Writes what is queued and closes the journal; call once no group is running. A later add() opens it again. */
  async close(): Promise<void> {
    await this.#writing;
    await this.#closeJournal();
  }

  async #closeJournal(): Promise<void> {
    const journal = this.#journal;
    this.#journal = undefined;
    await journal?.close();
  }

  /**
   * Stops every group recorded by a server process of this host that is gone or, with
   * `liveServers`, holds no lease (SIGTERM, SIGKILL after `graceMs`) and forgets its records;
   * returns how many groups were recorded. A group id cannot be reused while any member of the
   * group lives, so a recorded id whose group still exists in the same boot is still that
   * job's. Records of another boot are only forgotten: their processes ended with that boot.
   * The leases are read after the records are listed: a server registers before it records a
   * group, so a record listed here belongs to a server the lease list already shows.
   */
  async reap(graceMs: number, liveServers?: LiveServers): Promise<number> {
    const self = currentProcess();
    const hostDir = path.join(this.#stateDir, GROUPS, self.host);
    const owners: { readonly owner: ProcessIdentity; readonly dir: string }[] = [];
    for (const boot of await list(hostDir)) {
      if (boot !== self.boot) {
        // An earlier boot's processes are gone; another PID namespace of this boot (a
        // container of the same name) is not ours to judge.
        if (bootIdOf(boot) !== bootIdOf(self.boot)) await rm(path.join(hostDir, boot), { recursive: true, force: true });
        continue;
      }
      for (const pid of numeric(await list(path.join(hostDir, boot)))) {
        for (const start of await list(path.join(hostDir, boot, String(pid)))) {
          owners.push({ owner: { host: self.host, boot, pid, start }, dir: path.join(hostDir, boot, String(pid), start) });
        }
      }
    }
    const live = await liveServers?.();
    let reaped = await this.#reapUnversioned(graceMs);
    for (const { owner, dir } of owners) {
      const key = processKey(owner);
      const abandoned = processGone(owner) === true || (live !== undefined && !live.has(key) && key !== processKey(self));
      if (!abandoned) continue;
      const groups = await recordedGroups(dir);
      await Promise.all(groups.map((pgid) => terminateGroup(pgid, graceMs)));
      await rm(dir, { recursive: true, force: true });
      // The pid's directory too, unless another process of that pid recorded groups there.
      await rmdir(path.dirname(dir)).catch(() => undefined);
      reaped += groups.length;
    }
    return reaped;
  }

  /**
   * Records `<stateDir>/<pgid>` (holding the boot id) of servers before per-process records:
   * such a server is gone once this version runs.
   */
  async #reapUnversioned(graceMs: number): Promise<number> {
    const groups = numeric(await list(this.#stateDir));
    const boot = bootIdOf(currentProcess().boot);
    await Promise.all(
      groups.map(async (pgid) => {
        const file = path.join(this.#stateDir, String(pgid));
        const recordedBoot = (await readFile(file, 'utf8').catch(() => '')).trim();
        if (recordedBoot === boot && currentProcess().boot !== 'unknown') await terminateGroup(pgid, graceMs);
        await rm(file, { force: true });
      }),
    );
    return groups.length;
  }
}
