/**
 * The part of the host's system a sandboxed job sees: the usual top-level system directories
 * read-only, minus whatever in /etc an unprivileged local user could not read either (shadow
 * passwords, private TLS keys, service credentials such as munge.key or pg_hba.conf). Jobs run
 * as the server's user, which may be root, so file permissions alone would not hide those:
 * they are covered by an empty file or directory in the job's view instead. Computed once at
 * start-up; /etc changes later need a restart to be reflected.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Directories bound read-only when present on the host (a symlink such as /bin → usr/bin is kept a symlink). */
export const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'] as const;

export interface SystemEntry {
  readonly path: string;
  /** Set when the host path is a symlink (merged /usr): recreated as the same symlink. */
  readonly symlinkTo?: string;
}

export interface HiddenEntries {
  readonly files: readonly string[];
  readonly dirs: readonly string[];
}

/** The system directories present on this host. */
export async function systemEntries(): Promise<SystemEntry[]> {
  const entries: SystemEntry[] = [];
  for (const dir of SYSTEM_DIRS) {
    const stat = await lstat(dir).catch(() => undefined);
    if (stat === undefined) continue;
    if (stat.isSymbolicLink()) entries.push({ path: dir, symlinkTo: await readlink(dir) });
    else if (stat.isDirectory()) entries.push({ path: dir });
  }
  return entries;
}

const OTHER_READ = 0o004;
const OTHER_SEARCH = 0o001;

/**
 * Entries below `root` that "others" may not read (files) or enter (directories); a hidden
 * directory's contents are not listed separately. Symlinks are not followed: a link to a
 * hidden file resolves to the covered file.
 */
export async function unreadableEntries(root: string): Promise<HiddenEntries> {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const full = path.join(dir, name);
      const stat = await lstat(full).catch(() => undefined);
      if (stat === undefined || stat.isSymbolicLink()) continue;
      if (stat.isDirectory()) {
        if ((stat.mode & OTHER_READ) === 0 || (stat.mode & OTHER_SEARCH) === 0) dirs.push(full);
        else await walk(full);
      } else if (stat.isFile() && (stat.mode & OTHER_READ) === 0) files.push(full);
    }
  };
  await walk(root);
  return { files, dirs };
}
