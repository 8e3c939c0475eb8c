/** LL-HLS playlist rendering and blocking-reload rules, checked with m3u8-parser and explicit assertions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockingWaiters, isAvailable, parseBlockingQuery, tooFarAhead } from '../../src/live/formats/hls/ll-hls-blocking.js';
import { renderLlPlaylist, renderMasterPlaylist, renderPlainPlaylist, type MediaPlaylistInput } from '../../src/live/formats/hls/ll-hls-playlist.js';
import { allParts, assertLlConformant, parseLl } from '../helpers/ll-hls.js';

/** A window of 10 segments (msn 3..12) of 4 × 0.5 s parts; the last one has 2 parts so far. */
function input(over: Partial<MediaPlaylistInput> = {}): MediaPlaylistInput {
  const segments = Array.from({ length: 10 }, (_, i) => {
    const complete = i < 9;
    return {
      msn: i + 3, durationS: complete ? 2 : 1, pdtMs: 1_700_000_000_000 + i * 2000, complete, uri: `seg_${i + 3}.m4s`,
      parts: [0, 1, 2, 3].slice(0, complete ? 4 : 2).map((k) => ({ uri: `part_${i * 4 + k}.m4s`, durationS: k === 3 ? 0.45 : 0.5, independent: k === 0 })),
    };
  });
  return { targetDurationS: 2, partTargetS: 0.5, initUri: 'init.mp4', segments, preloadHint: 'part_38.m4s', ended: false, ...over };
}

test('LL media playlist: PART-INF, SERVER-CONTROL, parts of the last segments only, PDT, one preload hint', () => {
  const text = renderLlPlaylist(input());
  const m = assertLlConformant(text);
  assert.equal(m.version, 6);
  assert.equal(m.mediaSequence, 3);
  assert.equal(m.segments.length, 9, 'complete segments listed with EXTINF');
  assert.equal(m.segments[0]!.map?.uri, 'init.mp4');
  assert.equal(m.serverControl?.partHoldBack, 1.5);
  assert.equal(m.serverControl?.canSkipUntil, 12);
  assert.deepEqual(m.segments.slice(0, 6).map((s) => s.parts), [undefined, undefined, undefined, undefined, undefined, undefined], 'old segments without parts');
  assert.equal(allParts(m).length, 3 * 4 + 2, 'parts of the segments covering the last 3 × target duration (3 complete + the current one)');
  assert.equal(m.preloadSegment?.preloadHints?.[0]?.uri, 'part_38.m4s');
  assert.equal(m.segments[0]!.programDateTime, 1_700_000_000_000);
  assert.equal(m.renditionReports, undefined);
});

test('delta update (_HLS_skip): EXT-X-SKIP replaces segments older than CAN-SKIP-UNTIL, version 9', () => {
  const text = renderLlPlaylist(input(), true);
  const m = parseLl(text);
  assert.equal(m.version, 9);
  assert.equal(m.skip?.skippedSegments, 3, 'segments 3..5 end at least CAN-SKIP-UNTIL (12 s) before the end; 6 ends 11 s before');
  assert.equal(m.mediaSequence, 3, 'media sequence still counts the skipped segments');
  assert.equal(m.segments[0]!.uri, 'seg_6.m4s');
  assert.ok(m.segments[0]!.programDateTime !== undefined, 'first listed segment keeps its PDT');
  const small = renderLlPlaylist(input({ segments: input().segments.slice(-4) }), true);
  assert.doesNotMatch(small, /EXT-X-SKIP/, 'nothing to skip in a short window');
});

test('ENDLIST removes the preload hint; rendition reports are rendered; plain view has no LL tags', () => {
  const ended = renderLlPlaylist(input({ ended: true, preloadHint: null, renditionReports: [{ uri: '../audio/index.m3u8', lastMsn: 12, lastPart: 1 }] }));
  const m = parseLl(ended);
  assert.equal(m.endList, true);
  assert.doesNotMatch(ended, /PRELOAD-HINT/);
  assert.deepEqual(m.renditionReports, [{ uri: '../audio/index.m3u8', lastMsn: 12, lastPart: 1 }]);
  const plain = renderPlainPlaylist(input());
  assert.doesNotMatch(plain, /EXT-X-PART|PRELOAD-HINT|SERVER-CONTROL|EXT-X-SKIP/);
  const p = parseLl(plain);
  assert.equal(p.segments.length, 9);
  assert.ok(p.segments.every((s) => s.programDateTime !== undefined));
  const master = parseLl(renderMasterPlaylist([{ uri: 'index.m3u8', bandwidth: 1_234_567.8, codecs: ['avc1.64001f', 'mp4a.40.2'], width: 640, height: 360 }]));
  assert.equal(master.playlists?.[0]?.uri, 'index.m3u8');
  assert.equal(master.playlists?.[0]?.attributes.BANDWIDTH, 1_234_568);
  assert.equal(master.playlists?.[0]?.attributes.CODECS, 'avc1.64001f,mp4a.40.2');
});

test('blocking query: _HLS_part without _HLS_msn, malformed numbers and bad _HLS_skip are 400s', () => {
  assert.match((parseBlockingQuery({ _HLS_part: '1' }) as { error: string }).error, /requires _HLS_msn/);
  assert.match((parseBlockingQuery({ _HLS_msn: '-1' }) as { error: string }).error, /non-negative/);
  assert.match((parseBlockingQuery({ _HLS_msn: '3', _HLS_part: 'x' }) as { error: string }).error, /_HLS_part/);
  assert.match((parseBlockingQuery({ _HLS_skip: 'NO' }) as { error: string }).error, /_HLS_skip/);
  assert.deepEqual(parseBlockingQuery({ _HLS_msn: '7', _HLS_part: '2', _HLS_skip: 'YES', token: 'abc' }), { msn: 7, part: 2, skip: true });
  assert.deepEqual(parseBlockingQuery({}), { msn: undefined, part: undefined, skip: false });
});

test('availability: finished segments satisfy any part, the current one by part count; > last + 2 is too far', () => {
  const pos = { msn: 10, parts: 2 };
  assert.equal(isAvailable(pos, 9, 7), true, 'a part index past a finished segment means the next segment');
  assert.equal(isAvailable(pos, 10, 1), true);
  assert.equal(isAvailable(pos, 10, 2), false);
  assert.equal(isAvailable(pos, 10, undefined), false, 'the whole segment is not finished');
  assert.equal(isAvailable(pos, 11, 0), false);
  assert.equal(tooFarAhead(10, 12), false);
  assert.equal(tooFarAhead(10, 13), true);
});

test('waiters are woken by notify (not by time) and time out with false', async () => {
  const w = new BlockingWaiters();
  const a = w.wait(5, 1, 60_000);
  const b = w.wait(6, 0, 60_000);
  const late = w.wait(9, 0, 5);
  assert.equal(w.size, 3);
  w.notify({ msn: 5, parts: 2 });
  assert.equal(await a, true);
  assert.equal(w.size, 2, 'b still waits');
  assert.equal(await late, false, 'deadline → false (503 in the route)');
  w.notify({ msn: 6, parts: 1 });
  assert.equal(await b, true);
  const c = w.wait(8, undefined, 60_000);
  w.cancelAll();
  assert.equal(await c, false);
  assert.equal(w.size, 0);
});

test('discontinuity: EXT-X-DISCONTINUITY then the new EXT-X-MAP; DISCONTINUITY-SEQUENCE when some slid out', () => {
  const base = input();
  const segments = base.segments.map((s, i) => (i >= 7 ? { ...s, mapUri: 'init_1.mp4', discontinuity: i === 7 } : s));
  const text = renderLlPlaylist({ ...base, segments, discontinuitySequence: 2 });
  assertLlConformant(text);
  const lines = text.split('\n');
  const d = lines.indexOf('#EXT-X-DISCONTINUITY');
  assert.ok(d > 0);
  assert.equal(lines[d + 1], '#EXT-X-MAP:URI="init_1.mp4"');
  assert.equal(lines.filter((l) => l.startsWith('#EXT-X-MAP')).length, 2, 'the map is repeated only where it changes');
  assert.ok(lines.includes('#EXT-X-DISCONTINUITY-SEQUENCE:2'));
  const plain = renderPlainPlaylist({ ...base, segments });
  assert.ok(plain.includes('#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init_1.mp4"'));
});
