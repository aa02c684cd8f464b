/**
 * Checks that a query the store really issued is served by index range scans: it re-runs
 * the captured SQL under EXPLAIN and fails on a full scan of a table, or on a sort of rows
 * that were not first bounded by a LIMIT (a sort of everything after the cursor).
 */
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import type { Store } from '../../src/store/connect.js';

const TABLES = ['workflow_invocation_step', 'implicit_collection_jobs_job_association', 'job', 'workflow_step', 'workflow_invocation'];

export async function assertIndexOnlyPlan(store: Store, sql: string, parameters: readonly unknown[]): Promise<string> {
  if (store.dialect === 'sqlite') {
    const { rows } = await store.db.executeQuery<{ id: number; parent: number; detail: string }>(
      CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]),
    );
    const plan = rows.map((r) => `${r.parent}:${r.detail}`).join('\n');
    for (const row of rows) {
      const scanned = /^SCAN (\w+)/.exec(row.detail)?.[1];
      assert.ok(scanned === undefined || !isTableAlias(scanned, sql), `full scan of a table:\n${plan}`);
      // A sort may only order rows of subqueries (the LIMITed branches), never an index range
      // of a table read in the same scope: that would be sorting everything after the cursor.
      if (row.detail.startsWith('USE TEMP B-TREE')) {
        const siblings = rows.filter((r) => r.parent === row.parent);
        assert.ok(!siblings.some((r) => /^(SEARCH|SCAN) \w+ USING (COVERING )?INDEX/.test(r.detail)), `sort of an index range:\n${plan}`);
      }
    }
    return plan;
  }
  // PostgreSQL picks plans from statistics: a table of a few hundred rows is cheaper to read
  // whole than through an index. Turning sequential scans off shows the plan it builds from
  // indexes, the one it picks once tables are large; bench:tasks shows the plan at 1M tasks.
  const { rows } = await store.db.transaction().execute(async (trx) => {
    for (const setting of ['enable_seqscan']) {
      await trx.executeQuery(CompiledQuery.raw(`set local ${setting} = off`));
    }
    return trx.executeQuery<{ 'QUERY PLAN': PgPlan[] }>(CompiledQuery.raw(`explain (format json) ${sql}`, [...parameters]));
  });
  const root = rows[0]['QUERY PLAN'][0].Plan;
  const plan = JSON.stringify(root);
  walk(root, (node) => {
    assert.ok(node['Node Type'] !== 'Seq Scan' || !TABLES.includes(node['Relation Name'] ?? ''), `full scan of ${node['Relation Name']}:\n${plan}`);
    if (node['Node Type'] === 'Sort' || node['Node Type'] === 'Incremental Sort') {
      assert.ok(boundedBelow(node), `sort of rows not bounded by a LIMIT:\n${plan}`);
    }
    if (node['Node Type'] === 'Hash') assert.ok(boundedBelow(node), `hash of a whole table:\n${plan}`);
  });
  return plan;
}

interface PgNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  Plans?: PgNode[];
}
interface PgPlan {
  Plan: PgNode;
}

function walk(node: PgNode, visit: (n: PgNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** Every row reaching this sort comes from a LIMITed scan or a per-row index probe of one. */
function boundedBelow(node: PgNode): boolean {
  return (node.Plans ?? []).every(bounded);
}

function bounded(node: PgNode): boolean {
  const type = node['Node Type'];
  // A correlated subquery runs once per row of its (bounded) parent; its own scans are checked by walk().
  if (node['Parent Relationship'] === 'SubPlan') return true;
  if (type === 'Limit') return true;
  if (/Scan/.test(type) && TABLES.includes(node['Relation Name'] ?? '')) return false;
  const [outer, inner] = node.Plans ?? [];
  if (type === 'Nested Loop' && outer !== undefined && inner !== undefined) {
    return bounded(outer) && (/^Index (Only )?Scan$/.test(inner['Node Type']) || bounded(inner));
  }
  return (node.Plans ?? []).every(bounded);
}

function isTableAlias(name: string, sql: string): boolean {
  return TABLES.includes(name) || new RegExp(`"(${TABLES.join('|')})" as "${name}"`).test(sql);
}
