/**
 * The input of an on-demand thumbnail when the asset lives in object storage: rather than fetch
 * the whole download MP4, read the master playlist, the top video rendition's media playlist, and
 * then only the init segment and the one media segment that holds the requested time (two GETs of
 * a few hundred KB), written to one small local fMP4 that ffmpeg seeks in. Works for transcoded
 * assets and live recordings alike (EXT-X-MAP is followed, RFC 8216bis §4.4.4.5).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';
import { assetPrefix, type BlobStorage } from '../storage/blob-storage.js';

/** A local file to take a frame from, the time within it, and its removal. */
export interface ThumbnailSource {
  file: string;
  offsetS: number;
  cleanup(): Promise<void>;
}

/** The variant URI with the highest BANDWIDTH in a multivariant playlist that names video (RESOLUTION), else the first one. */
function topVariant(master: string): string | null {
  let best: { uri: string; bw: number } | null = null;
  let pending: { bw: number; video: boolean } | null = null;
  for (const raw of master.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      pending = { bw: Number(/BANDWIDTH=(\d+)/.exec(line)?.[1] ?? 0), video: line.includes('RESOLUTION=') };
    } else if (pending !== null && line !== '' && !line.startsWith('#')) {
      const score = pending.bw + (pending.video ? 1e12 : 0);
      if (best === null || score > best.bw) best = { uri: line, bw: score };
      pending = null;
    }
  }
  return best?.uri ?? null;
}

/** Fetch init + the segment holding `timeS` of asset `assetId` into `tmpDir`. */
export async function thumbnailSource(storage: BlobStorage, assetId: string, timeS: number, tmpDir: string): Promise<ThumbnailSource> {
  const base = assetPrefix(assetId);
  const variant = topVariant((await storage.readAll(`${base}master.m3u8`)).toString('utf8'));
  if (variant === null || variant.includes('..') || /^[a-z]+:/i.test(variant)) throw fail('OBJECT_NOT_FOUND', `${base}master.m3u8 (no variant)`);
  const dir = path.posix.dirname(`${base}${variant}`);
  const media = (await storage.readAll(`${base}${variant}`)).toString('utf8');
  let map: string | null = null;
  let start = 0;
  let pick: { uri: string; map: string | null; startS: number } | null = null;
  let duration: number | null = null;
  for (const raw of media.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1] ?? null;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line !== '' && !line.startsWith('#') && duration !== null) {
      pick = { uri: line, map, startS: start }; // the last segment starting at or before timeS
      if (start + duration > timeS) break;
      start += duration;
      duration = null;
    }
  }
  if (pick === null || pick.map === null) throw fail('OBJECT_NOT_FOUND', `${base}${variant} (no segment with an init map)`);
  const [init, seg] = await Promise.all([storage.readAll(`${dir}/${pick.map}`), storage.readAll(`${dir}/${pick.uri}`)]);
  await mkdir(tmpDir, { recursive: true });
  const file = path.join(tmpDir, `thumb-${assetId}-${randomBytes(4).toString('hex')}.mp4`);
  await writeFile(file, Buffer.concat([init, seg]));
  return { file, offsetS: Math.max(0, timeS - pick.startS), cleanup: () => rm(file, { force: true }) };
}
