/**
 * The `server_secrets` table: secrets that every node of a cluster must hold the same, created on
 * first use. Two nodes starting at once may both try to create one: the insert ignores a conflict
 * on the name and both then read the row that won, so every node ends up with the same secret.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Repository of shared server secrets. */
export class ServerSecretsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** The secret called `name` (32 random bytes created on first use), as bytes. */
  async getOrCreate(name: string): Promise<Buffer> {
    const fresh = { name, secret: randomBytes(32).toString('base64url'), created_at: Date.now() };
    await this.db.insertInto('server_secrets').values(fresh).onConflict((oc) => oc.column('name').doNothing()).execute();
    const row = await this.db.selectFrom('server_secrets').select('secret').where('name', '=', name).executeTakeFirstOrThrow();
    return Buffer.from(row.secret, 'base64url');
  }
}
