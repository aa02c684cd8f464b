/**
 * Shell-style globbing of output files below a job's output directory, with Python glob
 * semantics (what cwltool uses): `*`, `?` and `[...]` within one path segment, names starting
 * with a dot only matched by patterns that start with a dot, results sorted.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';

export async function glob(pattern: string, cwd: string): Promise<string[]> {
  let rel = pattern;
  if (isAbsolute(pattern)) {
    rel = relative(cwd, pattern);
    if (rel.startsWith('..')) return [];
  }
  const segments = rel.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return [cwd];
  let current = [cwd];
  for (const segment of segments) {
    const next: string[] = [];
    for (const dir of current) next.push(...(await matchSegment(dir, segment)));
    current = next;
  }
  return current.sort();
}

async function matchSegment(dir: string, segment: string): Promise<string[]> {
  if (!/[*?[]/.test(segment)) {
    const path = join(dir, segment);
    return (await exists(path)) ? [path] : [];
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const regex = segmentRegex(segment);
  return names.filter((n) => (segment.startsWith('.') || !n.startsWith('.')) && regex.test(n)).map((n) => join(dir, n));
}

function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) source += '\\[';
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        source += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
