/**
 * better-sqlite3 runs every query synchronously, so the promise Kysely returns is already
 * settled: a loop of awaited queries (a cancel marking 100,000 planned jobs in chunks, a resume
 * reading them back) never lets the event loop turn, and every other request waits for the
 * whole loop — measured at 1.1 s for a cancel at 100,000 jobs. This plugin gives the event loop
 * a turn after any query that ends a slice of SLICE_MS or more since the last turn it gave, so
 * no chain of queries holds the server longer than a slice plus one statement. PostgreSQL's
 * queries are real I/O and need none of it.
 */
import { setImmediate } from 'node:timers/promises';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';

const SLICE_MS = 20;

export class EventLoopTurns implements KyselyPlugin {
  #sliceStart = performance.now();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (performance.now() - this.#sliceStart >= SLICE_MS) {
      await setImmediate();
      this.#sliceStart = performance.now();
    }
    return args.result;
  }
}
