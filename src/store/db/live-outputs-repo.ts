/**
 * The `live_outputs` table: where a live stream is restreamed to (src/live/restream). A row holds
 * the destination URL and an optional stream key, both secrets: this repository returns them
 * whole for the runtime, and only the API's JSON masks them. Rows go with their stream (foreign
 * key with ON DELETE CASCADE on both engines).
 */
import type { Kysely } from 'kysely';
import type { Database, LiveOutputRow } from './schema.js';
import { newId } from './ids.js';
import { clientText, type SqlDialect } from './sql-dialect.js';

/** What a client may set on an output. */
export interface LiveOutputFields {
  url?: string;
  streamKey?: string | null;
  name?: string;
  enabled?: boolean;
}

/** Repository of restreaming outputs. */
export class LiveOutputsRepo {
  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect) {}

  /** Insert an output of `streamId` unless it already has `max`; null when the bound is reached. */
  async create(streamId: string, o: LiveOutputFields & { url: string }, max: number): Promise<LiveOutputRow | null> {
    const now = Date.now();
    const row: LiveOutputRow = {
      id: newId('lo_'),
      stream_id: streamId,
      name: clientText(this.d, 'name', o.name ?? ''),
      url: clientText(this.d, 'url', o.url),
      stream_key: o.streamKey ? clientText(this.d, 'streamKey', o.streamKey) : null,
      enabled: o.enabled === false ? 0 : 1,
      created_at: now,
      updated_at: now,
    };
    return this.db.transaction().execute(async (trx) => {
      const n = await trx.selectFrom('live_outputs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('stream_id', '=', streamId).executeTakeFirst();
      if (Number(n?.n ?? 0) >= max) return null;
      await trx.insertInto('live_outputs').values(row).execute();
      return row;
    });
  }

  /** The outputs of a stream, oldest first. */
  async list(streamId: string): Promise<LiveOutputRow[]> {
    return this.db.selectFrom('live_outputs').selectAll().where('stream_id', '=', streamId).orderBy('created_at').orderBy('id').execute();
  }

  /** One output of a stream, or undefined. */
  async get(streamId: string, id: string): Promise<LiveOutputRow | undefined> {
    return this.db.selectFrom('live_outputs').selectAll().where('stream_id', '=', streamId).where('id', '=', id).executeTakeFirst();
  }

  /** Change name, enabled, URL or key; the updated row, or undefined when there is none. */
  async update(streamId: string, id: string, p: LiveOutputFields): Promise<LiveOutputRow | undefined> {
    const set: Partial<LiveOutputRow> = { updated_at: Date.now() };
    if (p.name !== undefined) set.name = clientText(this.d, 'name', p.name);
    if (p.url !== undefined) set.url = clientText(this.d, 'url', p.url);
    if (p.streamKey !== undefined) set.stream_key = p.streamKey ? clientText(this.d, 'streamKey', p.streamKey) : null;
    if (p.enabled !== undefined) set.enabled = p.enabled ? 1 : 0;
    return this.db.updateTable('live_outputs').set(set).where('stream_id', '=', streamId).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Delete one output; true when it existed. */
  async delete(streamId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('live_outputs').where('stream_id', '=', streamId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
