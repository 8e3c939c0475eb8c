/**
 * HLS playlists as a pulled HLS source reads them (RFC 8216 §4: master and media playlists, the
 * attribute lists of §4.2, EXT-X-BYTERANGE offsets carried across segments).
 */
import { parsePlaylist, PlaylistError } from '../../src/live/pull/sources/hls/playlist.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

/** parsePlaylist returns a master or media playlist, or throws PlaylistError; what it returns is usable. */
export const m3u8: FuzzTarget = {
  name: 'm3u8',
  checks: 'parsePlaylist returns a playlist or throws PlaylistError; a media playlist has a target duration > 0, finite durations ≥ 0, consecutive sequence numbers, byte ranges with offset and length ≥ 0; a master has ≥ 1 variant with a URI and a BANDWIDTH ≥ 0',
  dict: ['#EXTM3U\n', '#EXT-X-TARGETDURATION:', '#EXTINF:', '#EXT-X-MEDIA-SEQUENCE:', '#EXT-X-BYTERANGE:', '#EXT-X-MAP:URI="', '#EXT-X-DISCONTINUITY\n', '#EXT-X-ENDLIST\n',
    '#EXT-X-KEY:METHOD=AES-128,URI="k"\n', '#EXT-X-STREAM-INF:BANDWIDTH=', '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="', ',AUDIO="a"', 'BYTERANGE="', '@', '"', ',', '\r\n', '\n', 'seg.ts\n', '1e309', '-1'],
  maxLen: 4096,
  run(input) {
    let pl;
    try {
      pl = parsePlaylist(input.toString('utf8'));
    } catch (err) {
      invariant(err instanceof PlaylistError, `unexpected refusal: ${String(err)}`);
      return;
    }
    if (pl.kind === 'master') {
      invariant(pl.variants.length > 0, 'a master without variants');
      for (const v of pl.variants) invariant(v.uri !== '' && !v.uri.startsWith('#') && Number.isFinite(v.bandwidth) && v.bandwidth >= 0, `variant ${JSON.stringify(v)}`);
      return;
    }
    invariant(Number.isFinite(pl.targetDuration) && pl.targetDuration > 0, `target duration ${pl.targetDuration}`);
    pl.segments.forEach((s, i) => {
      invariant(Number.isFinite(s.duration) && s.duration >= 0, `duration ${s.duration}`);
      invariant(s.sequence === pl.mediaSequence + i, `sequence ${s.sequence} at ${i}`);
      for (const r of [s.range, s.init?.range]) if (r !== undefined) invariant(Number.isSafeInteger(r.offset) && r.offset >= 0 && Number.isSafeInteger(r.length) && r.length >= 0, `range ${JSON.stringify(r)}`);
    });
  },
};
