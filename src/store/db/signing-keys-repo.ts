/**
 * The `signing_keys` table: HMAC-SHA256 keys that sign playback tokens (RFC 7515 `kid` names
 * the key). Revoking sets `revoked_at` instead of deleting, so audits can still see the key.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, SigningKeyRow } from './schema.js';
import { newId } from './ids.js';

/** Repository of playback signing keys. */
export class SigningKeysRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Create a key with a 256-bit random secret. */
  async create(): Promise<SigningKeyRow> {
    const row: SigningKeyRow = { kid: newId('k_', 16), alg: 'HS256', secret: randomBytes(32).toString('base64url'), created_at: Date.now(), revoked_at: null };
    await this.db.insertInto('signing_keys').values(row).execute();
    return row;
  }

  /** The row (revoked or not), or undefined. */
  async get(kid: string): Promise<SigningKeyRow | undefined> {
    return this.db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
  }

  /** All keys, newest first. */
  async list(): Promise<SigningKeyRow[]> {
    return this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
  }

  /** Keys that may still verify tokens. */
  async active(): Promise<SigningKeyRow[]> {
    return this.db.selectFrom('signing_keys').selectAll().where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
  }

  /** Revoke; returns the row, or undefined when unknown. Revoking twice keeps the first time. */
  async revoke(kid: string): Promise<SigningKeyRow | undefined> {
    await this.db.updateTable('signing_keys').set({ revoked_at: Date.now() }).where('kid', '=', kid).where('revoked_at', 'is', null).execute();
    return this.get(kid);
  }
}
