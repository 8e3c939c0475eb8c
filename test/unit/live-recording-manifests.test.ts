/**
 * Static manifests of a live recording (src/live/recording/vod-manifests.ts): a codec change in
 * the middle (init version 0 → 1) is an EXT-X-DISCONTINUITY with a new EXT-X-MAP in HLS and a new
 * Period in the MPD; durations and segment URIs survive a round trip through m3u8-parser and
 * mpd-parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderVodMaster, renderVodMpd, renderVodPlaylist, type RecordingInfo } from '../../src/live/recording/vod-manifests.js';
import { parseM3u8, parseMpd } from '../helpers/vod-parsers.js';

const info: RecordingInfo = {
  codecs: ['avc1.64001f', 'mp4a.40.2'], width: 640, height: 360,
  segments: [
    { msn: 0, startMs: 1000, durationMs: 2000, initVersion: 0, bytes: 250_000 },
    { msn: 1, startMs: 3000, durationMs: 2040, initVersion: 0, bytes: 200_000 },
    { msn: 2, startMs: 5040, durationMs: 1960, initVersion: 1, bytes: 210_000 },
  ],
};

test('VOD playlist: ENDLIST, MAP per init, DISCONTINUITY where the init changes', () => {
  const text = renderVodPlaylist(info);
  const m = parseM3u8(text);
  assert.equal(m.endList, true);
  assert.equal(m.playlistType, 'VOD');
  assert.equal(m.independentSegments, true);
  assert.equal(m.targetDuration, 2);
  assert.deepEqual(m.segments?.map((s) => [s.uri, s.duration, s.map?.uri]), [['seg_0.m4s', 2, 'init.mp4'], ['seg_1.m4s', 2.04, 'init.mp4'], ['seg_2.m4s', 1.96, 'init_1.mp4']]);
  assert.equal(text.split('\n').filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1);
  assert.ok(text.indexOf('#EXT-X-DISCONTINUITY') < text.indexOf('init_1.mp4'));
  const master = parseM3u8(renderVodMaster(info)).playlists?.[0];
  assert.equal(master?.attributes.CODECS, 'avc1.64001f,mp4a.40.2');
  assert.equal(master?.attributes.BANDWIDTH, 1_000_000, 'peak segment bitrate');
});

test('VOD MPD: static, one Period per init, timeline numbers match the segment names', () => {
  const text = renderVodMpd(info);
  assert.match(text, /type="static"/);
  assert.match(text, /mediaPresentationDuration="PT6\.000S"/);
  assert.equal((text.match(/<Period /g) ?? []).length, 2);
  const m = parseMpd(text);
  const uris = (m.playlists ?? []).flatMap((p) => p.segments ?? []).map((s) => [s.uri, s.duration, s.map?.uri]);
  assert.deepEqual(uris, [['seg_0.m4s', 2, 'init.mp4'], ['seg_1.m4s', 2.04, 'init.mp4'], ['seg_2.m4s', 1.96, 'init_1.mp4']]);
});
