/**
 * The `videos` table. Every write goes through here so the in-memory playback policy map (which
 * the delivery fast path consults synchronously) hears about visibility changes at once, whoever
 * made them: the API, the VOD pipeline or the live recorder.
 */
import type { Kysely } from 'kysely';
import type { Database, Protection, VideoRow, VideoStatus, Visibility } from './schema.js';
import { newId } from './ids.js';
import { clientText, diagnosticText, type SqlDialect } from './sql-dialect.js';

/** Fields a caller may set when creating a video. */
export interface NewVideo {
  id?: string;
  title?: string;
  description?: string;
  visibility?: Visibility;
  protection?: Protection;
  status?: VideoStatus;
  sourcePath?: string | null;
  metadata?: Record<string, unknown>;
  /** A clip's source and snapped range. */
  clipOf?: ClipOf | null;
}

/** Where a clip was cut from: the source video and the range in its timeline, seconds. */
export interface ClipOf {
  videoId: string;
  start: number;
  end: number;
}

/** Fields a caller may change; `error: null` clears a previous error. */
export interface VideoPatch {
  title?: string;
  description?: string;
  visibility?: Visibility;
  status?: VideoStatus;
  progress?: number;
  error?: { code: string; message: string } | null;
  durationS?: number | null;
  width?: number | null;
  height?: number | null;
  sourcePath?: string | null;
  metadata?: Record<string, unknown>;
  playable?: boolean;
}

/** One page of a listing; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Listener told about every visibility change (`null` = deleted). */
export type VisibilityListener = (id: string, visibility: Visibility | null) => void;

/** Opaque cursor: base64url of "<created_at>:<id>" of the last row of the previous page. */
function encodeCursor(row: { created_at: number; id: string }): string {
  return Buffer.from(`${row.created_at}:${row.id}`).toString('base64url');
}

/** Decode a cursor; null when it is not one of ours. */
export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const m = /^(\d{1,16}):([A-Za-z0-9_-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { createdAt: Number(m[1]), id: m[2]! } : null;
}

/** Repository of videos. */
export class VideosRepo {
  /** Set by the app: keeps the playback policy map in step with the table. */
  onVisibility: VisibilityListener | null = null;

  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect) {}

  /** Insert a video (id `v_` + 16 base62 unless given) and return the row. */
  async create(v: NewVideo = {}): Promise<VideoRow> {
    const now = Date.now();
    const row: VideoRow = {
      id: v.id ?? newId('v_'),
      title: clientText(this.d, 'title', v.title ?? ''),
      description: clientText(this.d, 'description', v.description ?? ''),
      visibility: v.visibility ?? 'public',
      protection: v.protection ?? 'none',
      status: v.status ?? 'waiting',
      error_code: null,
      error_message: null,
      progress: 0,
      duration_s: null,
      width: null,
      height: null,
      source_path: v.sourcePath ?? null,
      metadata: JSON.stringify(v.metadata ?? {}),
      playable: 0,
      clip_of: v.clipOf ? JSON.stringify(v.clipOf) : null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('videos').values(row).execute();
    this.onVisibility?.(row.id, row.visibility);
    return row;
  }

  /** The row, or undefined. */
  async get(id: string): Promise<VideoRow | undefined> {
    return this.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Newest first, `limit` per page, optionally only one status. Throws on a foreign cursor. */
  async list(o: { status?: VideoStatus; limit: number; cursor?: string | null }): Promise<Page<VideoRow>> {
    let q = this.db.selectFrom('videos').selectAll();
    if (o.status) q = q.where('status', '=', o.status);
    if (o.cursor) {
      const c = decodeCursor(o.cursor);
      if (!c) throw new RangeError('cursor');
      q = q.where((eb) => eb.or([eb('created_at', '<', c.createdAt), eb.and([eb('created_at', '=', c.createdAt), eb('id', '<', c.id)])]));
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(o.limit + 1).execute();
    const more = rows.length > o.limit;
    const items = more ? rows.slice(0, o.limit) : rows;
    return { items, nextCursor: more ? encodeCursor(items.at(-1)!) : null };
  }

  /** Apply a patch; returns the new row, or undefined when the video does not exist. */
  async update(id: string, p: VideoPatch): Promise<VideoRow | undefined> {
    const set: Partial<VideoRow> = { updated_at: Date.now() };
    if (p.title !== undefined) set.title = clientText(this.d, 'title', p.title);
    if (p.description !== undefined) set.description = clientText(this.d, 'description', p.description);
    if (p.visibility !== undefined) set.visibility = p.visibility;
    if (p.status !== undefined) set.status = p.status;
    if (p.progress !== undefined) set.progress = Math.min(1, Math.max(0, p.progress));
    if (p.error !== undefined) {
      set.error_code = p.error?.code ?? null;
      set.error_message = p.error ? diagnosticText(this.d, p.error.message) : null;
    }
    if (p.durationS !== undefined) set.duration_s = p.durationS;
    if (p.width !== undefined) set.width = p.width;
    if (p.height !== undefined) set.height = p.height;
    if (p.sourcePath !== undefined) set.source_path = p.sourcePath;
    if (p.metadata !== undefined) set.metadata = JSON.stringify(p.metadata);
    if (p.playable !== undefined) set.playable = p.playable ? 1 : 0;
    const row = await this.db.updateTable('videos').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    if (row && p.visibility !== undefined) this.onVisibility?.(id, row.visibility);
    return row;
  }

  /** Shorthand for the pipeline: status plus optional progress / error in one write. */
  async setStatus(id: string, status: VideoStatus, extra: Omit<VideoPatch, 'status'> = {}): Promise<VideoRow | undefined> {
    return this.update(id, { ...extra, status });
  }

  /** Delete the row; true when it existed. Files and jobs are the caller's (see API delete). */
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('videos').where('id', '=', id).executeTakeFirst();
    const gone = Number(r.numDeletedRows) > 0;
    if (gone) this.onVisibility?.(id, null);
    return gone;
  }

  /** Every video's visibility, to fill the policy map at start. */
  async visibilities(): Promise<Array<{ id: string; visibility: Visibility }>> {
    return this.db.selectFrom('videos').select(['id', 'visibility']).execute();
  }
}
