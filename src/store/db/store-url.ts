/**
 * Reads the `store.url` setting: which engine holds the metadata and where. Empty means the
 * embedded default, SQLite at `<dataDir>/strom.db` (or in memory when the data directory is
 * `:memory:`, for tests); `sqlite:<path>` names another SQLite file; `postgres://` or
 * `postgresql://` selects a PostgreSQL shared by a cluster. Anything else stops the start with
 * CONFIG_INVALID, showing the value with its password masked (it ends up in logs).
 */
import path from 'node:path';
import { fail } from '../../errors.js';

/** Where the metadata lives. */
export type StoreLocation =
  | { dialect: 'sqlite'; /** a file path or `:memory:` */ file: string }
  | { dialect: 'postgres'; /** a libpq-style connection URL for `pg` */ connectionString: string };

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages. */
export function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** Parse `store.url` (null or '' = the default SQLite file of `dataDir`). */
export function parseStoreUrl(url: string | null | undefined, dataDir: string): StoreLocation {
  const invalid = (why: string): never => {
    throw fail('CONFIG_INVALID', 'store.url', maskPassword(url ?? ''), why);
  };
  const value = url?.trim() ?? '';
  if (value === '') return { dialect: 'sqlite', file: dataDir === ':memory:' ? ':memory:' : path.join(dataDir, 'strom.db') };
  if (/^sqlite:/i.test(value)) {
    // `sqlite:///abs/file` is accepted as `sqlite:/abs/file`.
    const file = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') return invalid('sqlite: needs a file path, e.g. sqlite:/var/lib/strom/strom.db');
    return { dialect: 'sqlite', file: file === ':memory:' ? file : path.resolve(file) };
  }
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      return invalid('not a valid URL; expected postgres://user:password@host:port/database');
    }
    return { dialect: 'postgres', connectionString: value };
  }
  return invalid('expected empty (SQLite in the data directory), sqlite:<path>, or postgres://user:password@host:port/database');
}
