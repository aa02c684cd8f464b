/**
 * Query plans of a captured query, and whether they stay on indexes: no full scan of a table
 * (PostgreSQL Seq Scan or a hash built from a whole table, SQLite "SCAN <table>") and sorting
 * only over LIMITed branches (PostgreSQL: a sort fed by a LIMIT, a union of LIMITed inputs, or a
 * nested loop whose outer side is one; SQLite: a sort of subquery rows, never of an index range
 * read in the same scope — SQLite's plan does not show LIMITs). Used by the store tests and by
 * bench:tasks.
 */
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../src/store/database.js';
import type { Dialect } from '../../src/store/dialect.js';

export interface CapturedQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

export interface PlanVerdict {
  readonly indexOnly: boolean;
  readonly fullScans: string[];
  readonly unboundedSorts: string[];
  readonly text: string;
}

export async function explainQuery(db: Kysely<Database> | Transaction<Database>, dialect: Dialect, query: CapturedQuery): Promise<PlanVerdict> {
  return dialect === 'postgres' ? explainPostgres(db, query) : explainSqlite(db, query);
}

interface SqlitePlanRow {
  id: number;
  parent: number;
  detail: string;
}

async function explainSqlite(db: Kysely<Database> | Transaction<Database>, query: CapturedQuery): Promise<PlanVerdict> {
  const result = await db.executeQuery<SqlitePlanRow>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]));
  const rows = result.rows;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const depth = (r: SqlitePlanRow): number => (byId.has(r.parent) ? 1 + depth(byId.get(r.parent) as SqlitePlanRow) : 0);
  // Subqueries (co-routines / materialized views) are scanned as row sources, not tables.
  const subqueries = new Set<string>();
  for (const r of rows) {
    const m = /^(?:CO-ROUTINE|MATERIALIZE) (\S+)/.exec(r.detail);
    if (m !== null) subqueries.add(m[1]);
  }
  const fullScans: string[] = [];
  const unboundedSorts: string[] = [];
  for (const r of rows) {
    const scan = /^SCAN (\S+)/.exec(r.detail);
    if (scan !== null && !subqueries.has(scan[1])) fullScans.push(r.detail);
    // Sorting rows read from an index range in the same scope sorts everything after the cursor.
    const siblings = rows.filter((other) => other.parent === r.parent);
    if (/TEMP B-TREE/.test(r.detail) && siblings.some((other) => /^(SEARCH|SCAN) \S+ USING (COVERING )?INDEX/.test(other.detail))) {
      unboundedSorts.push(r.detail);
    }
  }
  unboundedSorts.push(...(await unlimitedSubqueries(db, query)));
  const text = rows.map((r) => `${'  '.repeat(depth(r))}${r.detail}`).join('\n');
  return { indexOnly: fullScans.length === 0 && unboundedSorts.length === 0, fullScans, unboundedSorts, text };
}

interface SqliteOp {
  addr: number;
  opcode: string;
  p2: number;
  p3: number;
}

/**
 * EXPLAIN QUERY PLAN does not show LIMITs, so read the bytecode: every co-routine (subquery)
 * whose own body opens a table or index must also count down a LIMIT (DecrJumpZero), or it
 * feeds the sort above it every row after the cursor.
 */
async function unlimitedSubqueries(db: Kysely<Database> | Transaction<Database>, query: CapturedQuery): Promise<string[]> {
  const { rows: ops } = await db.executeQuery<SqliteOp>(CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]));
  // InitCoroutine with a jump target defines a body [p3, p2); with p2 = 0 it only restarts one.
  const bodies = ops.filter((op) => op.opcode === 'InitCoroutine' && op.p2 > 0).map((op) => ({ start: op.p3, end: op.p2 }));
  const innermost = (addr: number) =>
    bodies.filter((b) => addr >= b.start && addr < b.end).sort((a, b) => a.end - a.start - (b.end - b.start))[0];
  const problems: string[] = [];
  for (const body of bodies) {
    const own = ops.filter((op) => innermost(op.addr) === body);
    if (own.some((op) => op.opcode === 'OpenRead') && !own.some((op) => op.opcode === 'DecrJumpZero')) {
      problems.push(`subquery at bytecode ${body.start}-${body.end} reads a table without a LIMIT`);
    }
  }
  return problems;
}

interface PgPlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Parent Relationship'?: string;
  'Plan Rows'?: number;
  Plans?: PgPlanNode[];
  [key: string]: unknown;
}

async function explainPostgres(db: Kysely<Database> | Transaction<Database>, query: CapturedQuery): Promise<PlanVerdict> {
  const result = await db.executeQuery<{ 'QUERY PLAN': { Plan: PgPlanNode }[] | string }>(
    CompiledQuery.raw(`explain (format json) ${query.sql}`, [...query.parameters]),
  );
  const raw = result.rows[0]?.['QUERY PLAN'];
  const doc = typeof raw === 'string' ? (JSON.parse(raw) as { Plan: PgPlanNode }[]) : raw;
  if (doc === undefined || doc[0] === undefined) throw new Error('no plan');
  const root = doc[0].Plan;
  const fullScans: string[] = [];
  const unboundedSorts: string[] = [];
  const lines: string[] = [];
  const walk = (node: PgPlanNode, depth: number): void => {
    const on = node['Relation Name'] === undefined ? '' : ` on ${node['Relation Name']}`;
    const using = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
    lines.push(`${'  '.repeat(depth)}${node['Node Type']}${on}${using} (rows=${node['Plan Rows'] ?? '?'})`);
    if (node['Node Type'] === 'Seq Scan') fullScans.push(`Seq Scan on ${node['Relation Name'] ?? '?'}`);
    // A hash join's build side is read whole: over an index scan without a LIMIT it is a full read too.
    if (node['Node Type'] === 'Hash' && !bounded(node.Plans?.[0])) {
      const input = node.Plans?.[0];
      if (input !== undefined && input['Node Type'] !== 'Seq Scan') {
        fullScans.push(`Hash of all ${input['Relation Name'] ?? '?'} rows (${input['Node Type']}${input['Index Name'] === undefined ? '' : ` using ${input['Index Name']}`})`);
      }
    }
    if ((node['Node Type'] === 'Sort' || node['Node Type'] === 'Incremental Sort') && !bounded(node.Plans?.[0])) {
      unboundedSorts.push(`${node['Node Type']} at depth ${depth}`);
    }
    for (const child of node.Plans ?? []) walk(child, depth + 1);
  };
  walk(root, 0);
  return { indexOnly: fullScans.length === 0 && unboundedSorts.length === 0, fullScans, unboundedSorts, text: lines.join('\n') };
}

/** Whether a plan node yields a LIMITed number of rows (per execution). */
function bounded(node: PgPlanNode | undefined): boolean {
  if (node === undefined) return false;
  const children = node.Plans ?? [];
  switch (node['Node Type']) {
    case 'Limit':
      return true;
    case 'Append':
    case 'Merge Append':
    case 'Merge Join':
      return children.every(bounded);
    case 'Nested Loop': {
      // The outer side drives the loop; the inner side is a per-row lookup.
      const outer = children.find((c) => c['Parent Relationship'] === 'Outer') ?? children[0];
      return bounded(outer);
    }
    case 'Hash Join': {
      const outer = children.find((c) => c['Parent Relationship'] === 'Outer') ?? children[0];
      return bounded(outer);
    }
    default:
      // Subquery Scan, Result, Materialize, Memoize, Hash, Sort, Gather …: as bounded as their input.
      return children.length > 0 && children.every(bounded);
  }
}
