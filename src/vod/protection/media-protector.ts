/**
 * What the publisher asks of a protection scheme (docs/VOD.md "Content protection"): per track,
 * the init segment to publish and the encryption of each media segment, plus the lines the HLS
 * playlists and the DASH MPD need. `aes-128` encrypts whole segments (aes-128.ts); `cenc` encrypts
 * samples in place with the CMAF `cbcs` scheme (cbcs-*.ts) and signals it in the init segment.
 */
import type { Protection } from '../../store/db/schema.js';
import { encryptSegment, keyIndexOf, newIv, type SegmentKey } from './aes-128.js';
import type { ContentKeys } from './content-keys.js';
import { cbcsTrack, clearKeyPlaylistKey, type CencInfo } from './cbcs-track.js';

/** One track's encryption, created from its clear init segment. */
export interface TrackProtector {
  /** The init segment to publish (clear for AES-128; `encv`/`enca` + `sinf` + `pssh` for cbcs). */
  readonly init: Buffer;
  /** EXT-X-KEY lines that apply to the whole playlist (cbcs), before EXT-X-MAP. */
  readonly playlistKeys: readonly string[];
  /** Encrypt media segment number `seq` (0-based) of the track. */
  segment(data: Buffer, seq: number): { data: Buffer; key?: SegmentKey };
}

/** A scheme bound to one video. */
export interface MediaProtector {
  readonly mode: Exclude<Protection, 'none'>;
  /** What the MPD's ContentProtection elements need (cbcs only). */
  readonly dash?: CencInfo;
  track(init: Buffer, kind: 'video' | 'audio'): TrackProtector;
}

/** The protector of a video, or undefined for `none`. `rotation`: AES-128 segments per key (0: one key). */
export function mediaProtector(protection: Protection, videoId: string, keys: ContentKeys, rotation: number): MediaProtector | undefined {
  if (protection === 'aes-128') {
    return {
      mode: 'aes-128',
      track: (init) => ({
        init,
        playlistKeys: [],
        segment(data, seq) {
          const index = keyIndexOf(seq, rotation);
          const iv = newIv();
          return { data: encryptSegment(data, keys.aesKey(videoId, index), iv), key: { index, iv: iv.toString('hex') } };
        },
      }),
    };
  }
  if (protection === 'cenc') {
    const c = keys.cenc(videoId);
    const info: CencInfo = { kid: c.kid };
    // The KID is the same for every track: one license answers for the whole video.
    return {
      mode: 'cenc',
      dash: info,
      track: (init, kind) => {
        const t = cbcsTrack(init, kind, c);
        return { init: t.init, playlistKeys: [clearKeyPlaylistKey(c.kid)], segment: (data) => ({ data: t.segment(data) }) };
      },
    };
  }
  return undefined;
}
