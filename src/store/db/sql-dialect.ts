/**
 * The differences between the two metadata engines, kept in one place so migrations and
 * repositories stay one set of code. SQLite is one file owned by one node; PostgreSQL is shared
 * by every node of a cluster, which changes how jobs are leased and how migrations are serialised.
 * Everything else the repositories write is plain portable SQL: TEXT/INTEGER/BIGINT columns,
 * booleans as 0/1 integers, JSON as text, times as epoch milliseconds, `UPDATE … RETURNING`
 * (SQLite ≥ 3.35), case-sensitive `=` and no LIKE. The one value SQLite stores and PostgreSQL
 * refuses, U+0000 inside text, is handled by `clientText` and `diagnosticText` below.
 */
import { fail } from '../../errors.js';

/** Which engine holds the metadata. */
export type DialectName = 'sqlite' | 'postgres';

/** What migrations and repositories need to know about the engine. */
export interface SqlDialect {
  name: DialectName;
  /**
   * Column type of an 8-byte float: SQLite's `real` is a double, PostgreSQL's `real` is 4 bytes
   * (a progress of 0.1 would read back as 0.100000001), so PostgreSQL gets `double precision`.
   */
  float: 'real' | 'double precision';
  /**
   * Several processes (cluster nodes) share the database: leases use row locks with SKIP LOCKED,
   * migrations take an advisory lock, and a node never releases leases it does not hold.
   */
  shared: boolean;
}

/** The embedded default: one SQLite file, one node. */
export const SQLITE: SqlDialect = { name: 'sqlite', float: 'real', shared: false };

/** Cluster mode: one PostgreSQL shared by every node. */
export const POSTGRES: SqlDialect = { name: 'postgres', float: 'double precision', shared: true };

// PostgreSQL text cannot hold U+0000 (the server rejects the whole statement); SQLite stores it.
// JSON columns are safe on both (JSON.stringify writes it as \u0000).

/**
 * A text value a client supplied (titles, URLs): on PostgreSQL one containing U+0000 is refused
 * with VALIDATION_FAILED naming `field`, instead of failing the statement with a 500.
 */
export function clientText(d: SqlDialect, field: string, value: string): string {
  if (d.name === 'postgres' && value.includes('\u0000')) throw fail('VALIDATION_FAILED', field, 'must not contain the NUL character (U+0000)');
  return value;
}

/** A diagnostic text Strom produced (error messages, tool output): U+0000 becomes U+FFFD on PostgreSQL. */
export function diagnosticText(d: SqlDialect, value: string): string {
  return d.name === 'postgres' ? value.replaceAll('\u0000', '\uFFFD') : value;
}
