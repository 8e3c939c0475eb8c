/**
 * The `direct_uploads` table: one-time tus upload URLs. State moves only forward, each step one
 * conditional UPDATE so two requests racing with the same credential cannot both win:
 * `waiting` → `uploading` (the tus creation) → `done` (the last byte), or → `expired` (the sweep)
 * / `cancelled` (the API) from either open state.
 */
import type { Kysely } from 'kysely';
import type { Database, DirectUploadRow, DirectUploadState } from './schema.js';

/** The states in which the upload URL still works. */
const OPEN: DirectUploadState[] = ['waiting', 'uploading'];

/** Repository of direct uploads. */
export class DirectUploadsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Insert a new direct upload (state `waiting`). */
  async create(row: Omit<DirectUploadRow, 'state' | 'created_at' | 'updated_at'>): Promise<DirectUploadRow> {
    const now = Date.now();
    const full: DirectUploadRow = { ...row, state: 'waiting', created_at: now, updated_at: now };
    await this.db.insertInto('direct_uploads').values(full).execute();
    return full;
  }

  /** By id, or undefined. */
  async get(id: string): Promise<DirectUploadRow | undefined> {
    return this.db.selectFrom('direct_uploads').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** By the SHA-256 of its credential, or undefined. */
  async byTokenHash(hash: string): Promise<DirectUploadRow | undefined> {
    return this.db.selectFrom('direct_uploads').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  }

  /** The open direct upload of a video, or undefined (tus hooks use it to tell direct uploads apart). */
  async openForVideo(videoId: string): Promise<DirectUploadRow | undefined> {
    return this.db.selectFrom('direct_uploads').selectAll().where('video_id', '=', videoId).where('state', 'in', OPEN).executeTakeFirst();
  }

  /** Move `id` from `from` to `to`; true when this call made the move. */
  async transition(id: string, from: DirectUploadState[], to: DirectUploadState): Promise<boolean> {
    const r = await this.db.updateTable('direct_uploads').set({ state: to, updated_at: Date.now() }).where('id', '=', id).where('state', 'in', from).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Open direct uploads whose expiry has passed (a bounded batch for the sweep). */
  async expiredOpen(now: number, limit = 200): Promise<DirectUploadRow[]> {
    return this.db.selectFrom('direct_uploads').selectAll().where('state', 'in', OPEN).where('expires_at', '<', now).limit(limit).execute();
  }
}
