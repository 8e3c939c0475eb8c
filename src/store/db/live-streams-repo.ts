/**
 * The `live_streams` table: live inputs and their secret stream keys. `findLiveStreamByKey` is the
 * one call the RTMP/WHIP ingest makes to authorise a publisher. Like videos, visibility changes
 * reach the playback policy map through `onVisibility`.
 */
import type { Kysely } from 'kysely';
import type { Database, LiveStreamRow, Visibility } from './schema.js';
import type { VisibilityListener } from './videos-repo.js';
import { newId } from './ids.js';
import { clientText, type SqlDialect } from './sql-dialect.js';

/** A fresh secret stream key: `sk_` + 32 base62 (≈190 bits). */
export function newStreamKey(): string {
  return newId('sk_', 32);
}

/** Repository of live streams. */
export class LiveStreamsRepo {
  /** Set by the app: keeps the playback policy map in step with the table. */
  onVisibility: VisibilityListener | null = null;

  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect) {}

  /** Create a stream with a new key. */
  async create(o: { title?: string; visibility?: Visibility; record?: boolean; id?: string; /** live ABR: transcode the ladder while watched */ abr?: boolean; srtPassphrase?: string | null; /** pulled source URL */ source?: string | null; sourceOnDemand?: boolean; /** epoch ms */ scheduledStart?: number | null; expectedViewers?: number | null } = {}): Promise<LiveStreamRow> {
    const now = Date.now();
    const row: LiveStreamRow = {
      id: o.id ?? newId('ls_'),
      title: clientText(this.d, 'title', o.title ?? ''),
      stream_key: newStreamKey(),
      visibility: o.visibility ?? 'public',
      status: 'idle',
      record: o.record ? 1 : 0,
      abr: o.abr ? 1 : 0,
      srt_passphrase: o.srtPassphrase ?? null,
      source: o.source ?? null,
      source_on_demand: o.sourceOnDemand === false ? 0 : 1,
      scheduled_start: o.scheduledStart ?? null,
      expected_viewers: o.expectedViewers ?? null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('live_streams').values(row).execute();
    this.onVisibility?.(row.id, row.visibility);
    return row;
  }

  /** The row, or undefined. */
  async get(id: string): Promise<LiveStreamRow | undefined> {
    return this.db.selectFrom('live_streams').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Authorise a publisher: the stream whose key is `key`, or undefined. */
  async findLiveStreamByKey(key: string): Promise<LiveStreamRow | undefined> {
    return this.db.selectFrom('live_streams').selectAll().where('stream_key', '=', key).executeTakeFirst();
  }

  /** Newest first, keyset pagination by (created_at, id) after `after` (an id from the previous page). */
  async list(o: { limit: number; afterId?: string | null }): Promise<{ items: LiveStreamRow[]; nextCursor: string | null }> {
    let q = this.db.selectFrom('live_streams').selectAll();
    if (o.afterId) {
      const last = await this.get(o.afterId);
      if (!last) throw new RangeError('cursor');
      q = q.where((eb) => eb.or([eb('created_at', '<', last.created_at), eb.and([eb('created_at', '=', last.created_at), eb('id', '<', last.id)])]));
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(o.limit + 1).execute();
    const more = rows.length > o.limit;
    const items = more ? rows.slice(0, o.limit) : rows;
    return { items, nextCursor: more ? items.at(-1)!.id : null };
  }

  /** Change title, visibility, record flag or status (the live engine sets `active`/`idle`). */
  async update(id: string, p: { title?: string; visibility?: Visibility; record?: boolean; status?: 'idle' | 'active'; /** live ABR: transcode the ladder while watched */ abr?: boolean; /** null removes it */ srtPassphrase?: string | null; /** null removes it */ source?: string | null; sourceOnDemand?: boolean; /** epoch ms; null removes it */ scheduledStart?: number | null; /** null removes it */ expectedViewers?: number | null }): Promise<LiveStreamRow | undefined> {
    const set: Partial<LiveStreamRow> = { updated_at: Date.now() };
    if (p.title !== undefined) set.title = clientText(this.d, 'title', p.title);
    if (p.visibility !== undefined) set.visibility = p.visibility;
    if (p.record !== undefined) set.record = p.record ? 1 : 0;
    if (p.abr !== undefined) set.abr = p.abr ? 1 : 0;
    if (p.status !== undefined) set.status = p.status;
    if (p.srtPassphrase !== undefined) set.srt_passphrase = p.srtPassphrase;
    if (p.source !== undefined) set.source = p.source;
    if (p.sourceOnDemand !== undefined) set.source_on_demand = p.sourceOnDemand ? 1 : 0;
    if (p.scheduledStart !== undefined) set.scheduled_start = p.scheduledStart;
    if (p.expectedViewers !== undefined) set.expected_viewers = p.expectedViewers;
    const row = await this.db.updateTable('live_streams').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    if (row && p.visibility !== undefined) this.onVisibility?.(id, row.visibility);
    return row;
  }

  /** Replace the stream key; the old one stops working immediately. */
  async rotateKey(id: string): Promise<LiveStreamRow | undefined> {
    return this.db.updateTable('live_streams').set({ stream_key: newStreamKey(), updated_at: Date.now() }).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Delete; true when it existed. */
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('live_streams').where('id', '=', id).executeTakeFirst();
    const gone = Number(r.numDeletedRows) > 0;
    if (gone) this.onVisibility?.(id, null);
    return gone;
  }

  /** Streams pulled from a source, for the pull manager's start (always-on ones connect at once). */
  async withSources(): Promise<LiveStreamRow[]> {
    return this.db.selectFrom('live_streams').selectAll().where('source', 'is not', null).execute();
  }

  /** Streams with a schedule and an expected audience starting in [from, to], earliest first (the viewer forecast). */
  async scheduled(from: number, to: number, limit: number): Promise<LiveStreamRow[]> {
    return this.db.selectFrom('live_streams').selectAll()
      .where('scheduled_start', '>=', from).where('scheduled_start', '<=', to).where('expected_viewers', 'is not', null)
      .orderBy('scheduled_start').limit(limit).execute();
  }

  /** Every stream's visibility, to fill the policy map at start. */
  async visibilities(): Promise<Array<{ id: string; visibility: Visibility }>> {
    return this.db.selectFrom('live_streams').select(['id', 'visibility']).execute();
  }
}
