/**
 * The HLS playlist reader of pulled sources (RFC 8216 §4): media playlists (target duration,
 * sequence numbers, discontinuities, EXT-X-MAP, byte ranges, keys, low-latency tags skipped),
 * master playlists (variants, audio renditions), the variant and audio choice, the live-edge start
 * (§6.3.3) and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audioRenditionUri, pickVariant } from '../../src/live/pull/sources/hls-source.js';
import { startSequence } from '../../src/live/pull/sources/hls/media-follower.js';
import { parseAttributes, parsePlaylist, PlaylistError, type MasterPlaylist, type MediaPlaylist } from '../../src/live/pull/sources/hls/playlist.js';

const media = (text: string) => parsePlaylist(text) as MediaPlaylist;
const master = (text: string) => parsePlaylist(text) as MasterPlaylist;

test('media playlist: segments, sequence numbers, discontinuity, EXT-X-MAP, byte ranges, keys', () => {
  const pl = media([
    '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:41',
    '#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"',
    '#EXTINF:2.000,', '#EXT-X-BYTERANGE:1000@720', 'main.mp4',
    '#EXTINF:1.5,title', '#EXT-X-BYTERANGE:500', 'main.mp4',
    '#EXT-X-DISCONTINUITY', '#EXT-X-PROGRAM-DATE-TIME:2026-12-07T12:00:00.000Z', '#EXTINF:2,', 'other.m4s?x=1',
    '#EXT-X-KEY:METHOD=AES-128,URI="k.key"', '#EXTINF:2,', 'enc.m4s', '',
  ].join('\r\n'));
  assert.equal(pl.kind, 'media');
  assert.equal(pl.targetDuration, 2);
  assert.equal(pl.endList, false);
  assert.deepEqual(pl.segments.map((s) => [s.uri, s.sequence, s.duration, s.discontinuity, s.encrypted]), [
    ['main.mp4', 41, 2, false, false], ['main.mp4', 42, 1.5, false, false], ['other.m4s?x=1', 43, 2, true, false], ['enc.m4s', 44, 2, false, true],
  ]);
  assert.deepEqual(pl.segments[0]!.range, { offset: 720, length: 1000 });
  assert.deepEqual(pl.segments[1]!.range, { offset: 1720, length: 500 }, 'a range without offset follows the previous range of the same URI');
  assert.deepEqual(pl.segments[0]!.init, { uri: 'init.mp4', range: { offset: 0, length: 720 } });
  assert.equal(pl.segments[2]!.range, undefined);
});

test('media playlist: ENDLIST, and the low-latency tags are skipped (complete segments only)', () => {
  const pl = media('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n#EXT-X-PART-INF:PART-TARGET=0.5\n' +
    '#EXT-X-PART:DURATION=0.5,URI="p1.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.5,URI="p2.m4s"\n#EXTINF:1.0,\ns0.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p3.m4s"\n#EXT-X-ENDLIST\n');
  assert.deepEqual(pl.segments.map((s) => s.uri), ['s0.m4s']);
  assert.equal(pl.endList, true);
  assert.equal(pl.mediaSequence, 0);
});

test('master playlist: variants with their attributes, renditions; highest BANDWIDTH chosen, its default audio', () => {
  const m = master([
    '#EXTM3U',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=NO,URI="a/en.m3u8"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Main, stereo",DEFAULT=YES,URI="a/main.m3u8"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="muxed",NAME="in the variant",DEFAULT=YES',
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aud"', 'v360.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"', 'v720.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=2500000,AUDIO="muxed"', 'same.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=200000', 'low.m3u8',
  ].join('\n'));
  assert.equal(m.kind, 'master');
  assert.equal(m.variants.length, 4);
  assert.deepEqual(m.variants[1], { uri: 'v720.m3u8', bandwidth: 2_500_000, codecs: 'avc1.64001f,mp4a.40.2', resolution: '1280x720', audio: 'aud' });
  assert.equal(m.renditions[1]!.name, 'Main, stereo');
  const v = pickVariant(m);
  assert.equal(v.uri, 'v720.m3u8', 'the highest BANDWIDTH, the first of equals');
  assert.equal(audioRenditionUri(m, v), 'a/main.m3u8', 'the DEFAULT=YES rendition');
  assert.equal(audioRenditionUri(m, m.variants[2]!), null, 'a rendition without URI is in the variant');
  assert.equal(audioRenditionUri(m, m.variants[3]!), null, 'no AUDIO group');
  const firstOfGroup = master('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g",NAME="a",URI="a.m3u8"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g",NAME="b",URI="b.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="g"\nv.m3u8\n');
  assert.equal(audioRenditionUri(firstOfGroup, firstOfGroup.variants[0]!), 'a.m3u8', 'no default: the first');
});

test('start near the live edge: the last segment starting at least 3 target durations from the end (§6.3.3)', () => {
  const live = (n: number, d = 2) => media(['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:100', ...Array.from({ length: n }, (_, i) => `#EXTINF:${d},\ns${i}.ts`)].join('\n'));
  assert.equal(startSequence(live(6)), 103, '6 × 2 s: the 4th from the end starts 6 s before it');
  assert.equal(startSequence(live(6, 1.9)), 102, 'shorter segments: one more back');
  assert.equal(startSequence(live(2)), 100, 'a short playlist: its first segment');
  assert.equal(startSequence(media('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n#EXT-X-ENDLIST')), 7, 'ENDLIST: from the first');
});

test('attribute lists (§4.2): quoted strings keep commas, enumerated and numeric values', () => {
  assert.deepEqual([...parseAttributes('BANDWIDTH=1280000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970')], [
    ['BANDWIDTH', '1280000'], ['CODECS', 'avc1.4d401e,mp4a.40.2'], ['RESOLUTION', '640x360'], ['FRAME-RATE', '29.970'],
  ]);
});

test('refusals: PlaylistError for what is not a usable playlist', () => {
  for (const [text, why] of [
    ['<html>', /EXTM3U/],
    ['#EXTM3U\n#EXTINF:2,\na.ts\n', /TARGETDURATION/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n', /without EXTINF/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:x,\na.ts\n', /EXTINF/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n', /MEDIA-SEQUENCE/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:100\n#EXTINF:2,\na.ts\n', /offset/],
    ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n', /URI/],
    ['#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n', /BANDWIDTH/],
  ] as const) assert.throws(() => parsePlaylist(text), (e: unknown) => e instanceof PlaylistError && why.test(e.message), text);
});
