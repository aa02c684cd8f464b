/**
 * A record on disk of the process groups a LocalExecutor has running, so that a server that
 * died without stopping its jobs (a crash, SIGKILL) has them stopped by the next server on its
 * host: job processes lead their own groups and outlive the server otherwise.
 *
 * Several servers may share one data directory (PostgreSQL), so each server process records
 * its groups in a directory of its own, `groups/<host>/<boot id>.<PID namespace>/<pid>/<pid
 * start time>/journal`, and a server only stops the groups of a process that is gone (process-identity.ts) or, when
 * told which servers hold a lease, of one that holds none (frozen or cut off from the database
 * past its lease: its runs are someone else's now).
 */
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
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
  #journal: number | undefined;
  #lines = 0;
  /** What the journal holds now, for its compaction. */
  readonly #recorded = new Set<number>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
    this.#own = path.join(stateDir, GROUPS, processKey(currentProcess()));
  }

  /**
   * Best effort and synchronous: an appended line costs a few microseconds, where a file per
   * group cost a create and an unlink (~0.3 ms of the event loop per job on a slow disk);
   * without the record only a crash of this process would leave the job behind.
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
    try {
      if (this.#journal === undefined) {
        mkdirSync(this.#own, { recursive: true });
        this.#journal = openSync(path.join(this.#own, JOURNAL), 'a');
      }
      writeSync(this.#journal, `${line}\n`);
      if (++this.#lines >= COMPACT_AFTER) this.#compact();
    } catch {
      // See add(): a missing record only matters after a crash.
    }
  }

  /** Replaces the journal, atomically, by one that records only the groups still running. */
  #compact(): void {
    const file = path.join(this.#own, JOURNAL);
    const next = `${file}.next`;
    writeFileSync(next, [...this.#recorded].map((pgid) => `+${pgid}\n`).join(''));
    renameSync(next, file);
    this.close();
    this.#journal = openSync(file, 'a');
    this.#lines = this.#recorded.size;
  }

  /** Closes the journal; call once no group is running. A later add() opens it again. */
  close(): void {
    const journal = this.#journal;
    // Forgotten first: a descriptor number closed here may soon name another file.
    this.#journal = undefined;
    if (journal !== undefined) closeSync(journal);
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
