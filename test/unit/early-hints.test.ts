/**
 * What the 103 Early Hints of a master playlist name (src/http/delivery/early-hints.ts): the start
 * variant (first EXT-X-STREAM-INF), the default audio rendition, and each one's init and first
 * segment as absolute paths; off-origin URIs are never hinted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsEarlyHints, defaultAudio, earlyHintLinks, firstObjects, firstVariant, resolveUri } from '../../src/http/delivery/early-hints.js';

const MASTER = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="en",URI="subs/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="commentary",DEFAULT=NO,URI="aud2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES,AUTOSELECT=YES,URI="aud/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=854x480,AUDIO="aud"
v480/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,AUDIO="aud"
v720/index.m3u8
`;
const MEDIA = `#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:1.000000,
seg_00000.m4s
#EXTINF:2.000000,
seg_00001.m4s
`;

test('the start variant is the first EXT-X-STREAM-INF; the default audio is DEFAULT=YES, else the first audio', () => {
  assert.equal(firstVariant(MASTER), 'v480/index.m3u8');
  assert.equal(defaultAudio(MASTER), 'aud/index.m3u8');
  assert.equal(defaultAudio(MASTER.replace('DEFAULT=YES', 'DEFAULT=NO')), 'aud2/index.m3u8');
  assert.equal(defaultAudio('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n'), null, 'muxed audio: nothing separate');
  assert.equal(defaultAudio('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="in band"\n'), null, 'an audio rendition without URI is in the variants');
});

test('links: the media playlist, then its init and first segment, resolved against the playlist', () => {
  assert.deepEqual(firstObjects(MEDIA), { init: 'init_0.mp4', segment: 'seg_00000.m4s' });
  assert.deepEqual(earlyHintLinks('/v/a1/v480/index.m3u8', MEDIA), [
    '</v/a1/v480/index.m3u8>; rel=preload; as=fetch; crossorigin',
    '</v/a1/v480/init_0.mp4>; rel=preload; as=fetch; crossorigin',
    '</v/a1/v480/seg_00000.m4s>; rel=preload; as=fetch; crossorigin',
  ]);
  assert.deepEqual(earlyHintLinks('/v/a1/v480/index.m3u8', null), ['</v/a1/v480/index.m3u8>; rel=preload; as=fetch; crossorigin'], 'body unknown: the playlist alone');
  assert.deepEqual(earlyHintLinks(null, MEDIA), []);
});

test('off-origin and parent-relative URIs', () => {
  assert.equal(resolveUri('/v/a1/master.m3u8', 'https://cdn.example/x.m3u8'), null);
  assert.equal(resolveUri('/v/a1/master.m3u8', '//cdn.example/x.m3u8'), null);
  assert.equal(resolveUri('/v/a1/v480/index.m3u8', '../aud/init.mp4'), '/v/a1/aud/init.mp4');
  assert.equal(resolveUri('/v/a1/v480/index.m3u8', 'seg.m4s?x=1'), '/v/a1/v480/seg.m4s');
});

test('who gets a 103: HTTP/2 always; HTTP/1.1 except ffmpeg and browsers; never HTTP/1.0', () => {
  const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  assert.equal(acceptsEarlyHints(2, 0, chrome), true, 'browsers use 103 over HTTP/2 (navigations)');
  assert.equal(acceptsEarlyHints(1, 1, chrome), false, 'browsers ignore it over HTTP/1.1');
  assert.equal(acceptsEarlyHints(1, 1, 'Lavf/59.27.100'), false, 'ffmpeg takes it for the final response');
  assert.equal(acceptsEarlyHints(1, 1, 'curl/7.88.1'), true);
  assert.equal(acceptsEarlyHints(1, 1, undefined), true);
  assert.equal(acceptsEarlyHints(1, 0, 'curl/7.88.1'), false, 'no 1xx in HTTP/1.0 (RFC 8297 §3)');
});
