import fs from 'node:fs';

/** Live processes (zombies excluded) whose command line mentions `marker`, read from /proc. */
export function processesMentioning(marker: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (/\) Z /.test(stat)) return false;
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}
