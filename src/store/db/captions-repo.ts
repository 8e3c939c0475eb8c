/**
 * The `video_captions` table: one caption track per video and language (BCP 47), stored as
 * validated WebVTT text. Putting a track for a language that has one replaces it; at most one
 * track of a video is the default, so marking one clears the others in the same transaction.
 * Rows go with their video (foreign key with ON DELETE CASCADE).
 */
import type { Kysely } from 'kysely';
import type { CaptionRow, Database } from './schema.js';
import { clientText, type SqlDialect } from './sql-dialect.js';

/** What a caption upload stores. */
export interface CaptionInput {
  language: string;
  label: string;
  isDefault: boolean;
  format: 'vtt' | 'srt';
  vtt: string;
  cues: number;
}

/** Repository of caption tracks. */
export class CaptionsRepo {
  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect) {}

  /** Insert or replace the track of `language`; `replaced` tells which it was. */
  async put(videoId: string, c: CaptionInput): Promise<{ row: CaptionRow; replaced: boolean }> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      const old = await trx.selectFrom('video_captions').select('created_at').where('video_id', '=', videoId).where('language', '=', c.language).executeTakeFirst();
      if (c.isDefault) await trx.updateTable('video_captions').set({ is_default: 0 }).where('video_id', '=', videoId).execute();
      const row: CaptionRow = {
        video_id: videoId,
        language: c.language,
        label: clientText(this.d, 'label', c.label),
        is_default: c.isDefault ? 1 : 0,
        format: c.format,
        vtt: c.vtt,
        cues: c.cues,
        created_at: old?.created_at ?? now,
        updated_at: now,
      };
      if (old) await trx.deleteFrom('video_captions').where('video_id', '=', videoId).where('language', '=', c.language).execute();
      await trx.insertInto('video_captions').values(row).execute();
      return { row, replaced: old !== undefined };
    });
  }

  /** The tracks of a video, by language. */
  async list(videoId: string): Promise<CaptionRow[]> {
    return this.db.selectFrom('video_captions').selectAll().where('video_id', '=', videoId).orderBy('language').execute();
  }

  /** Delete one track; true when it existed. */
  async delete(videoId: string, language: string): Promise<boolean> {
    const r = await this.db.deleteFrom('video_captions').where('video_id', '=', videoId).where('language', '=', language).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
