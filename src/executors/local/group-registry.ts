/**
 * A record on disk of the process groups a LocalExecutor has running, so that a server that
 * died without stopping its jobs (a crash, SIGKILL) can stop them on its next start: job
 * processes lead their own groups and outlive the server otherwise. One file per group,
 * named by its id and holding the boot id; a group is only killed in the boot it was started
 * in, because after a reboot the same id may belong to anyone.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { terminateGroup } from './process-group.js';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

async function bootId(): Promise<string> {
  return (await readFile(BOOT_ID, 'utf8').catch(() => 'unknown')).trim();
}

export class GroupRegistry {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #boot: string | undefined;

  /**
   * Best effort and synchronous: it runs while the job holds its slot, where a few microseconds
   * of blocking cost less than thread-pool round trips; without the record only a crash of this
   * process would leave the job behind.
   */
  add(pgid: number): void {
    try {
      if (this.#boot === undefined) {
        mkdirSync(this.#dir, { recursive: true });
        this.#boot = readFileSync(BOOT_ID, 'utf8').trim();
      }
      writeFileSync(path.join(this.#dir, String(pgid)), this.#boot);
    } catch {
      // See above: a missing record only matters after a crash.
    }
  }

  remove(pgid: number): void {
    try {
      rmSync(path.join(this.#dir, String(pgid)), { force: true });
    } catch {
      // A record left behind names a group that is gone; reap() skips it.
    }
  }

  /**
   * Stops every group recorded by an earlier process in this boot (SIGTERM, SIGKILL after
   * `graceMs`) and forgets all records; returns how many groups were recorded. A group id
   * cannot be reused while any member of the group lives, so a recorded id whose group still
   * exists in the same boot is still that job's.
   */
  async reap(graceMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    const boot = await bootId();
    const groups = names.filter((name) => /^\d+$/.test(name));
    await Promise.all(
      groups.map(async (name) => {
        const recordedBoot = (await readFile(path.join(this.#dir, name), 'utf8').catch(() => '')).trim();
        if (recordedBoot === boot && boot !== 'unknown') await terminateGroup(Number(name), graceMs);
        this.remove(Number(name));
      }),
    );
    return groups.length;
  }
}
