/** Caption files: WebVTT parsing and its refusals (each naming the line), SubRip → WebVTT, segmentation with X-TIMESTAMP-MAP, and the manifests' subtitle entries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalLanguage, decodeText, languageName, parseCaptionFile } from '../../src/vod/captions/caption-file.js';
import { withDashSubtitles, withHlsSubtitles, type CaptionTrackRef } from '../../src/vod/captions/caption-manifests.js';
import { looksLikeSrt, parseSrt } from '../../src/vod/captions/srt.js';
import { rangesOf, segmentCues, subtitlePlaylist, timestampMap } from '../../src/vod/captions/vtt-segments.js';
import { CaptionError, formatTimestamp, parseTimestamp, parseWebVtt, serializeWebVtt } from '../../src/vod/captions/webvtt.js';
import { firstDecodeTimeS } from '../../src/vod/cmaf-inspect.js';

const VTT = 'WEBVTT - a file\nKind: captions\n\nSTYLE\n::cue { color: yellow }\n\nNOTE a comment\n\nintro\n00:01.000 --> 00:03.000 align:start\nHello Strom\n\n00:02.500 --> 01:00:04.250\n<i>second</i>\nline two\n';

/** The refusal of `text`: its line and reason. */
function refusal(f: () => unknown): CaptionError {
  try {
    f();
  } catch (err) {
    if (err instanceof CaptionError) return err;
    throw err;
  }
  assert.fail('expected a CaptionError');
}

test('timestamps: with and without hours; bad ones are null; formatting pads and rounds', () => {
  assert.equal(parseTimestamp('00:01.000'), 1);
  assert.equal(parseTimestamp('01:00:04.250'), 3604.25);
  assert.equal(parseTimestamp('100:00:00.000'), 360000);
  for (const bad of ['1.000', '00:60.000', '00:01,000', '00:01.00', 'aa:bb.ccc']) assert.equal(parseTimestamp(bad), null, bad);
  assert.equal(formatTimestamp(3604.25), '01:00:04.250');
  assert.equal(formatTimestamp(0.0004), '00:00:00.000');
});

test('WebVTT: cues with ids, settings, multi-line text; STYLE kept, NOTE dropped; round trip', () => {
  const doc = parseWebVtt(VTT);
  assert.deepEqual(doc.blocks, ['STYLE\n::cue { color: yellow }']);
  assert.equal(doc.cues.length, 2);
  assert.deepEqual({ ...doc.cues[0] }, { id: 'intro', startS: 1, endS: 3, settings: 'align:start', text: 'Hello Strom', line: 10 });
  assert.equal(doc.cues[1]!.text, '<i>second</i>\nline two');
  assert.equal(doc.cues[1]!.line, 13);
  const again = parseWebVtt(serializeWebVtt(doc));
  assert.deepEqual(again.cues.map((c) => [c.id, c.startS, c.endS, c.settings, c.text]), doc.cues.map((c) => [c.id, c.startS, c.endS, c.settings, c.text]));
  // BOM and CRLF line ends are fine.
  assert.equal(parseWebVtt('\uFEFFWEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\nx\r\n').cues.length, 1);
});

test('WebVTT refusals name the line: no header, bad timing, start after end, starts going back, cue text with -->', () => {
  let e = refusal(() => parseWebVtt('1\n00:00:01,000 --> 00:00:02,000\nhi\n'));
  assert.equal(e.line, 1);
  assert.match(e.why, /WEBVTT/);
  e = refusal(() => parseWebVtt('WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 -> 00:04.000\nbad arrow\n'));
  assert.equal(e.line, 6);
  assert.match(e.why, /timing line/);
  e = refusal(() => parseWebVtt('WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\nid\n00:03.000 --> 00:04.0x0\nbad end\n'));
  assert.equal(e.line, 7);
  assert.match(e.why, /cue end "00:04.0x0"/);
  e = refusal(() => parseWebVtt('WEBVTT\n\n00:05.000 --> 00:02.000\nbackwards\n'));
  assert.equal(e.line, 3);
  assert.match(e.why, /starts at 00:00:05.000, after its end 00:00:02.000/);
  e = refusal(() => parseWebVtt('WEBVTT\n\n00:05.000 --> 00:06.000\na\n\n00:04.000 --> 00:07.000\nb\n'));
  assert.equal(e.line, 6);
  assert.match(e.why, /goes back before the previous cue's start 00:00:05.000 \(line 3\)/);
  e = refusal(() => parseWebVtt('WEBVTT\n\n00:01.000 --> 00:02.000\na\n00:02.000 --> 00:03.000\nb\n'));
  assert.equal(e.line, 5);
});

test('binary garbage and other encodings are refused with the line of the first bad byte', () => {
  const e = refusal(() => decodeText(Buffer.concat([Buffer.from('WEBVTT\n\n'), Buffer.from([0xff, 0xfe, 0x00, 0x01])])));
  assert.equal(e.line, 3);
  assert.match(e.why, /not UTF-8/);
  assert.equal(refusal(() => decodeText(Buffer.from('WEBVTT\n\x00\x01\x02'))).line, 2);
  assert.equal(refusal(() => parseCaptionFile(Buffer.alloc(0))).why, 'the file is empty');
  assert.match(refusal(() => parseCaptionFile(Buffer.from('WEBVTT\n\nNOTE only\n'))).why, /no cues/);
});

test('SubRip → WebVTT: comma decimals, index lines dropped, font tags removed, errors name the .srt line', () => {
  const srt = '1\r\n00:00:01,000 --> 00:00:03,000\r\n<font color="red">Hello</font> Strom\r\n\r\n2\r\n00:00:03,5 --> 00:00:04.250\r\n{\\an8}<i>top</i> & more\r\n';
  assert.equal(looksLikeSrt(srt), true);
  assert.equal(looksLikeSrt('WEBVTT\n\n'), false);
  const doc = parseSrt(srt);
  assert.deepEqual(doc.cues.map((c) => [c.startS, c.endS, c.text, c.id, c.line]), [[1, 3, 'Hello Strom', null, 2], [3.5, 4.25, '<i>top</i> &amp; more', null, 6]]);
  const vtt = serializeWebVtt(doc);
  assert.equal(vtt, 'WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello Strom\n\n00:00:03.500 --> 00:00:04.250\n<i>top</i> &amp; more\n');
  assert.equal(parseCaptionFile(Buffer.from(srt)).format, 'srt'); // detected without a Content-Type
  assert.equal(parseCaptionFile(Buffer.from(srt), 'application/x-subrip').doc.cues.length, 2);
  let e = refusal(() => parseSrt('1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:0x,000 --> 00:00:03,000\nb\n'));
  assert.equal(e.line, 6);
  assert.match(e.why, /cue start "00:00:0x,000"/);
  e = refusal(() => parseSrt('1\n00:00:04,000 --> 00:00:02,000\na\n'));
  assert.equal(e.line, 2);
  e = refusal(() => parseSrt('1\nhello there\n'));
  assert.equal(e.line, 2);
  assert.match(e.why, /expected a SubRip timing line/);
});

test('segmentation: one file per video segment, X-TIMESTAMP-MAP = 90 kHz of base + segment start, cues cut at boundaries', () => {
  const doc = parseWebVtt('WEBVTT\n\nintro\n00:00.500 --> 00:02.000\nspans\n\n00:02.000 --> 00:02.500\ninside\n\n00:09.000 --> 00:12.000\nafter the end\n');
  const ranges = rangesOf([1, 4, 1.5]);
  assert.deepEqual(ranges, [{ startS: 0, durationS: 1 }, { startS: 1, durationS: 4 }, { startS: 5, durationS: 1.5 }]);
  const segs = segmentCues(doc, ranges, 1.4);
  assert.deepEqual(segs.map((s) => s.uri), ['seg_00000.vtt', 'seg_00001.vtt', 'seg_00002.vtt']);
  assert.equal(segs[0]!.text, 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n00:00:00.500 --> 00:00:01.000\nspans\n');
  assert.equal(segs[1]!.text, 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n\n00:00:00.000 --> 00:00:01.000\nspans\n\n00:00:01.000 --> 00:00:01.500\ninside\n');
  // The last segment takes cues past the end of the media; local times are relative to its start.
  assert.match(segs[2]!.text, /MPEGTS:576000,LOCAL:00:00:00.000\n\n00:00:04.000 --> 00:00:07.000\nafter the end\n$/);
  assert.equal(timestampMap(0, 2 ** 33 / 90000 + 1), 'X-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00.000'); // 33-bit wrap
  const pl = subtitlePlaylist(segs);
  assert.match(pl, /#EXT-X-TARGETDURATION:4\n/);
  assert.match(pl, /#EXTINF:1.500000,\nseg_00002.vtt\n#EXT-X-ENDLIST\n$/);
  // An uncut cue keeps its identifier.
  assert.match(segmentCues(parseWebVtt('WEBVTT\n\nid1\n00:01.500 --> 00:02.000\nx\n'), ranges, 0)[1]!.text, /\nid1\n00:00:00.500 --> 00:00:01.000\n/);
});

const tracks: CaptionTrackRef[] = [
  { language: 'en', label: 'English', isDefault: true, playlistUri: 'captions/en_1/index.m3u8', vttUri: 'captions/en_1.vtt' },
  { language: 'pt-BR', label: 'Português "BR"', isDefault: false, playlistUri: 'captions/pt-BR_2/index.m3u8', vttUri: 'captions/pt-BR_2.vtt' },
];
const MASTER = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",URI="a128/index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="aud"\nv480/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2,AUDIO="aud"\nv720/index.m3u8\n';

test('master playlist: a SUBTITLES group and SUBTITLES on every variant; idempotent; removed with the last track', () => {
  const m = withHlsSubtitles(MASTER, tracks);
  assert.match(m, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="captions\/en_1\/index.m3u8"\n/);
  assert.match(m, /LANGUAGE="pt-BR",NAME="Português 'BR'",DEFAULT=NO,AUTOSELECT=YES/);
  assert.equal(m.match(/SUBTITLES="subs"/g)?.length, 2);
  assert.ok(m.indexOf('TYPE=SUBTITLES') < m.indexOf('#EXT-X-STREAM-INF'));
  assert.equal(withHlsSubtitles(m, tracks), m);
  assert.equal(withHlsSubtitles(m, []), MASTER);
  assert.equal(withHlsSubtitles(m, tracks.slice(1)).match(/TYPE=SUBTITLES/g)?.length, 1);
});

test('MPD: one text AdaptationSet per track with the whole .vtt; idempotent; removed with the last track', () => {
  const mpd = '<?xml version="1.0"?>\n<MPD>\n<Period id="0" start="PT0S">\n  <AdaptationSet id="0" contentType="video"></AdaptationSet>\n</Period>\n</MPD>\n';
  const out = withDashSubtitles(mpd, tracks);
  assert.match(out, /<AdaptationSet id="100" contentType="text" mimeType="text\/vtt" lang="en"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/><Label>English<\/Label><Representation id="text-en" bandwidth="256"><BaseURL>captions\/en_1.vtt<\/BaseURL>/);
  assert.match(out, /lang="pt-BR"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"\/><Label>Português &quot;BR&quot;<\/Label>/);
  assert.equal(withDashSubtitles(out, tracks), out);
  assert.equal(withDashSubtitles(out, []), mpd);
});

test('languages: canonical case, refusals; names for labels', () => {
  assert.equal(canonicalLanguage('PT-br'), 'pt-BR');
  assert.equal(canonicalLanguage('zh-hant-tw'), 'zh-Hant-TW');
  assert.equal(canonicalLanguage('es-419'), 'es-419');
  for (const bad of ['e', 'english!', '../x', 'en_US', '']) assert.equal(canonicalLanguage(bad), null, bad);
  assert.equal(languageName('en'), 'English');
});

test('firstDecodeTimeS: tfdt over the mdhd timescale', () => {
  const box = (type: string, payload: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from(type, 'latin1'), payload]).fill(0, 0, 0);
  const sized = (type: string, payload: Buffer) => {
    const b = box(type, payload);
    b.writeUInt32BE(b.length, 0);
    return b;
  };
  const mdhd = Buffer.alloc(24);
  mdhd.writeUInt32BE(90000, 12);
  const init = sized('moov', sized('trak', sized('mdia', sized('mdhd', mdhd))));
  const tfdt = Buffer.alloc(12);
  tfdt[0] = 1;
  tfdt.writeBigUInt64BE(135000n, 4);
  const seg = sized('moof', sized('traf', sized('tfdt', tfdt)));
  assert.equal(firstDecodeTimeS(init, seg), 1.5);
});
