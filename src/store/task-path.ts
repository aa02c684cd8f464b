/**
 * Task ids and sort keys. A step instance is addressed by a path of (order, element?)
 * coordinates: top-level step 3 is "3"; inner step 1 of subworkflow step 3 is "3/1"; inner
 * step 1 of element 2 of a scattered subworkflow step 3 is "3.2/1". A task id is a step
 * path, plus ".{job_index}" for one job of the step's collection: "3.4", "3/1.4".
 *
 * The sort key orders every step instance of a run, nested ones right after their parent:
 * each coordinate becomes 8 hex digits of `order` and 8 of `element + 1` (0 when absent), so
 * byte-wise comparison of keys is the depth-first order of paths, in SQL on both databases.
 */
export interface PathCoordinate {
  readonly order: number;
  readonly element?: number;
}

const MAX_INDEX = 0xfffffffe;
/** A job index is compared with `order_index`, an int4 on PostgreSQL: a larger one names no task. */
const MAX_JOB_INDEX = 2 ** 31 - 1;
const COORDINATE = /^(0|[1-9][0-9]{0,9})(?:\.(0|[1-9][0-9]{0,9}))?$/;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function formatStepPath(path: readonly PathCoordinate[]): string {
  return path.map((c) => (c.element === undefined ? `${c.order}` : `${c.order}.${c.element}`)).join('/');
}

export function sortKeyOf(path: readonly PathCoordinate[]): string {
  if (path.length === 0) throw new RangeError('a step path has at least one coordinate');
  return path
    .map((c) => {
      if (!isIndex(c.order) || (c.element !== undefined && !isIndex(c.element))) {
        throw new RangeError(`step path coordinate out of range: ${JSON.stringify(c)}`);
      }
      return hex8(c.order) + hex8(c.element === undefined ? 0 : c.element + 1);
    })
    .join('');
}

export function formatTaskId(stepPath: string, jobIndex: number | undefined): string {
  return jobIndex === undefined ? stepPath : `${stepPath}.${jobIndex}`;
}

export interface ParsedTaskId {
  /** The step instance's task path, e.g. "3/1". */
  readonly stepPath: string;
  /** Index of the job in the step's collection; undefined for a step-level task. */
  readonly jobIndex?: number;
  /** The step instance's sort key (see sortKeyOf). */
  readonly sortKey: string;
}

/** Parses a canonical task id; undefined for anything else (no leading zeros, no blanks). */
export function parseTaskId(taskId: string): ParsedTaskId | undefined {
  const segments = taskId.split('/');
  const coordinates: PathCoordinate[] = [];
  for (const segment of segments) {
    const match = COORDINATE.exec(segment);
    if (match === null) return undefined;
    const order = Number(match[1]);
    const element = match[2] === undefined ? undefined : Number(match[2]);
    if (!isIndex(order) || (element !== undefined && !isIndex(element))) return undefined;
    coordinates.push({ order, element });
  }
  const last = coordinates[coordinates.length - 1];
  if (last.element !== undefined && last.element > MAX_JOB_INDEX) return undefined;
  const step = [...coordinates.slice(0, -1), { order: last.order }];
  return { stepPath: formatStepPath(step), jobIndex: last.element, sortKey: sortKeyOf(step) };
}

function isIndex(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_INDEX;
}
