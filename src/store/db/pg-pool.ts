/**
 * Strom's `pg` pool, as Kysely's PostgresDialect sees it. Three things differ from a bare pool:
 * - BIGINT columns (epoch-millisecond times, `count(*)`) come back as numbers instead of strings:
 *   every value Strom stores fits in 2^53. The parser is set on this pool's `types`, not on the
 *   global `pg.types`, so other users of `pg` in the process are unaffected.
 * - Nothing waits forever: a connection (or a free pool slot) not obtained within
 *   `connectTimeoutMs` fails; a statement not answered within `queryTimeoutMs` is given up (a
 *   server that hangs, a network partition) and its connection closed; TCP keep-alive notices a
 *   dead peer on idle connections. The timeout is the client's, not a `statement_timeout` startup
 *   parameter, so a pooler such as PgBouncer in transaction mode needs no extra configuration.
 * - Every failure to reach the server — at connect, or a connection dying mid-query — is thrown
 *   as 503 STORE_UNAVAILABLE naming `where` (store-outage.ts), so the API, the job pool, the
 *   webhook poller and the readiness check all see one catalog error. A client whose connection
 *   failed is destroyed on release instead of going back to the pool, and its 'error' event is
 *   heard while it is checked out (unheard, a server restart mid-query would end the process).
 */
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type { PoolClient, PoolConfig } from 'pg';
import { isConnectionFailure, storeUnavailable } from './store-outage.js';

/** How to build the pool. */
export interface PgPoolOptions {
  connectionString: string;
  /** Connections at most (`store.poolMax`). */
  max: number;
  /** `store.connectTimeoutMs`. */
  connectTimeoutMs: number;
  /** `store.queryTimeoutMs`; 0 = no statement timeout (migrations). */
  queryTimeoutMs: number;
  /** The store as named in errors: engine and masked `store.url`. */
  where: string;
}

/** A pool for Kysely whose failures to reach PostgreSQL are STORE_UNAVAILABLE. */
export async function createPgPool(o: PgPoolOptions): Promise<PostgresPool> {
  const { default: pg } = await import('pg'); // loaded only in cluster mode
  const getTypeParser: typeof pg.types.getTypeParser = (oid, format) =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format);
  const config: PoolConfig = {
    connectionString: o.connectionString,
    max: o.max,
    types: { getTypeParser },
    connectionTimeoutMillis: o.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(o.queryTimeoutMs > 0 ? { query_timeout: o.queryTimeoutMs } : {}),
  };
  const pool = new pg.Pool(config);
  // An idle connection dropped by the server (restart, failover) is an 'error' event on the pool;
  // unhandled it would end the process. The pool discards that client and the next query opens a
  // new one, so there is nothing else to do here.
  pool.on('error', () => undefined);
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw storeUnavailable(o.where, err);
      }
      let broken: Error | undefined;
      // A connection dying while checked out is also an 'error' event on the client: the pool only
      // listens on idle clients, and unheard it would crash the process. The query sees the same error.
      const onError = (err: Error) => void (broken = err);
      client.on('error', onError);
      const query = (text: string | object, values?: ReadonlyArray<unknown>): unknown => {
        // Kysely's streaming overload passes a cursor object: handed over untouched (Strom never streams).
        if (typeof text !== 'string') return client.query(text as never);
        return client.query(text, values as unknown[]).catch((err: unknown) => {
          if (!isConnectionFailure(err)) throw err;
          broken = err as Error;
          throw storeUnavailable(o.where, err);
        });
      };
      const release = () => {
        client.removeListener('error', onError);
        client.release(broken);
      };
      return { query: query as PostgresPoolClient['query'], release };
    },
    end: () => pool.end(),
  };
}
