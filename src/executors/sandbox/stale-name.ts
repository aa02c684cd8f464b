/**
 * Per-job cgroups and network namespaces are named `<prefix>-<server pid>-<n>`, the prefix a
 * hash of the data directory. Several servers may share one data directory (PostgreSQL), so a
 * name is stale only when its server process is gone; a pid reused since keeps it until later,
 * which errs on the safe side.
 */
export function isStaleName(name: string, prefix: string): boolean {
  const match = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
  if (match === null) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: a process of another user holds the pid, so that pid is not our server either.
    return (err as NodeJS.ErrnoException).code === 'ESRCH' || (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
