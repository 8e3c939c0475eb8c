/**
 * RTSP pieces without a socket: request framing with interleaved data and its bounds (RFC 2326
 * §6, §10.12), SDP parse/build (RFC 8866 with RFC 6184/3640 fmtp), the Transport header, URLs,
 * and Basic/Digest credentials computed the way ffmpeg computes them (RFC 2617 §3.2.2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isStromError } from '../../src/errors.js';
import { ingestTrack } from '../../src/live/rtsp/ingest-tracks.js';
import { parseRtspUrl } from '../../src/live/rtsp/rtsp-access.js';
import { parseAuthorization, RtspAuth } from '../../src/live/rtsp/rtsp-auth.js';
import { interleavedFrame, RtspReader, rtspResponse, type RtspItem } from '../../src/live/rtsp/rtsp-message.js';
import { parseTransport, transportHeader } from '../../src/live/rtsp/rtsp-transport.js';
import { buildSdp, parseSdp } from '../../src/live/rtsp/sdp.js';

const limits = { maxHeaderBytes: 1024, maxBodyBytes: 4096 };
const announce = 'ANNOUNCE rtsp://127.0.0.1:8554/live/secret RTSP/1.0\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n';

test('reader: a request with a body, interleaved frames and a second request, fed one byte at a time', () => {
  const wire = Buffer.concat([Buffer.from(announce), interleavedFrame(1, Buffer.from([1, 2, 3])), Buffer.from('OPTIONS * RTSP/1.0\nCSeq: 3\n\n')]);
  const r = new RtspReader(limits);
  const items: RtspItem[] = [];
  for (let i = 0; i < wire.length; i++) items.push(...r.push(wire.subarray(i, i + 1)));
  assert.equal(items.length, 3);
  const [a, d, o] = items;
  assert.ok(a!.type === 'request' && a!.request.method === 'ANNOUNCE' && a!.request.body.toString() === 'v=0\r\n');
  assert.equal(a!.type === 'request' && a!.request.headers.get('cseq'), '2');
  assert.ok(d!.type === 'data' && d!.channel === 1 && d!.data.equals(Buffer.from([1, 2, 3])));
  assert.ok(o!.type === 'request' && o!.request.method === 'OPTIONS' && o!.request.uri === '*');
  assert.equal(r.buffered, 0);
});

test('reader: malformed or oversized input is a catalog error naming the problem', () => {
  const bad = (text: string, code: 'RTSP_PROTOCOL' | 'RTSP_LIMIT', re: RegExp) =>
    assert.throws(() => new RtspReader(limits).push(Buffer.from(text)), (e: unknown) => isStromError(e, code) && re.test(e.message), text.slice(0, 40));
  bad('GARBAGE\r\n\r\n', 'RTSP_PROTOCOL', /malformed request line/);
  bad('OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n', 'RTSP_PROTOCOL', /malformed request line/);
  bad('OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n', 'RTSP_PROTOCOL', /malformed header line/);
  bad('OPTIONS * RTSP/1.0\r\nBad Name: x\r\n\r\n', 'RTSP_PROTOCOL', /malformed header line/);
  bad('ANNOUNCE * RTSP/1.0\r\nContent-Length: -4\r\n\r\n', 'RTSP_PROTOCOL', /Content-Length "-4"/);
  bad('ANNOUNCE * RTSP/1.0\r\nContent-Length: 999999\r\n\r\n', 'RTSP_LIMIT', /body bytes 999999 exceeds the limit of 4096/);
  bad(`OPTIONS * RTSP/1.0\r\nX: ${'a'.repeat(2000)}`, 'RTSP_LIMIT', /header block bytes/);
  assert.equal(new RtspReader(limits).push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n')).length, 0, 'an incomplete header block waits');
});

test('responses carry a reason phrase, headers and Content-Length', () => {
  const r = rtspResponse(401, [['CSeq', '3'], ['WWW-Authenticate', 'Basic realm="Strom"']], 'no\n').toString();
  assert.match(r, /^RTSP\/1\.0 401 Unauthorized\r\nCSeq: 3\r\nWWW-Authenticate: Basic realm="Strom"\r\nContent-Length: 3\r\n\r\nno\n$/);
});

const ffmpegSdp = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=No Name', 'c=IN IP4 127.0.0.1', 't=0 0', 'a=tool:libavformat',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdkBQfsBEAAAAwAQAAADAyDxQqSA,aMuMsg==; profile-level-id=42C00D', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 97', 'b=AS:128', 'a=rtpmap:97 MPEG4-GENERIC/44100/1', 'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1208', 'a=control:streamid=1',
  'm=application 0 RTP/AVP 98', 'a=rtpmap:98 X-UNKNOWN/1000',
].join('\r\n');

test('SDP: an ffmpeg ANNOUNCE parses into tracks; unknown media are kept but get no ingest track', () => {
  const sdp = parseSdp(ffmpegSdp);
  assert.equal(sdp.media.length, 3);
  const [v, a, x] = sdp.media;
  assert.equal(v!.encoding, 'H264');
  assert.equal(v!.clockRate, 90000);
  assert.equal(v!.control, 'streamid=0');
  assert.equal(v!.fmtp.get('profile-level-id'), '42C00D');
  assert.equal(a!.encoding, 'MPEG4-GENERIC');
  assert.equal(a!.clockRate, 44100);
  assert.equal(a!.channels, 1);
  assert.equal(a!.fmtp.get('config'), '1208');
  assert.equal(ingestTrack(v!, 1e6)?.codec, 'avc');
  assert.equal(ingestTrack(a!, 1e6)?.codec, 'aac');
  assert.equal(ingestTrack(x!, 1e6), null);
  assert.throws(() => parseSdp('m=video 0 RTP/AVP\r\n'), (e: unknown) => isStromError(e, 'RTSP_PROTOCOL') && /no payload type/.test(e.message));
  assert.throws(() => parseSdp('m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264\r\n'), (e: unknown) => isStromError(e, 'RTSP_PROTOCOL') && /no clock rate/.test(e.message));
  assert.throws(() => parseSdp('m=audio 0 RTP/AVP 0\r\n'.repeat(9)), /more than 8 media/);
});

test('SDP: what DESCRIBE builds parses back', () => {
  const text = buildSdp({ sessionId: 1, address: '127.0.0.1', name: 'cam1', tracks: [
    { kind: 'video', payloadType: 96, rtpmap: 'H264/90000', fmtp: 'packetization-mode=1;profile-level-id=42C00D;sprop-parameter-sets=Z0I=,aM4=', control: 'trackID=0' },
    { kind: 'audio', payloadType: 97, rtpmap: 'OPUS/48000/2', fmtp: 'sprop-stereo=1', control: 'trackID=1' },
  ] });
  assert.match(text, /\r\na=control:\*\r\n/);
  const sdp = parseSdp(text);
  assert.equal(sdp.control, '*');
  assert.deepEqual(sdp.media.map((m) => [m.encoding, m.clockRate, m.channels, m.control]), [['H264', 90000, 1, 'trackID=0'], ['OPUS', 48000, 2, 'trackID=1']]);
  assert.equal(sdp.media[0]!.fmtp.get('sprop-parameter-sets'), 'Z0I=,aM4=');
});

test('Transport: TCP interleaved and UDP client ports; the first supported alternative wins', () => {
  assert.deepEqual(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3'), { kind: 'tcp', rtpChannel: 2, rtcpChannel: 3 });
  assert.deepEqual(parseTransport('RTP/AVP;unicast;client_port=5000-5001;mode=record'), { kind: 'udp', rtpPort: 5000, rtcpPort: 5001 });
  assert.deepEqual(parseTransport('RTP/AVP/UDP;multicast;port=1-2,RTP/AVP/UDP;unicast;client_port=6000'), { kind: 'udp', rtpPort: 6000, rtcpPort: 6001 });
  assert.equal(parseTransport('RTP/AVP;multicast'), null);
  assert.equal(parseTransport('RTP/AVP;unicast;client_port=99999-100000'), null);
  assert.equal(parseTransport('RAW/RAW/UDP;unicast'), null);
  assert.equal(transportHeader({ kind: 'udp', rtpPort: 5000, rtcpPort: 5001 }, 0xab, { rtpPort: 8000, rtcpPort: 8001 }, false), 'RTP/AVP;unicast;client_port=5000-5001;server_port=8000-8001;ssrc=000000AB');
});

test('URLs: /live/<name>, controls appended after a query, tokens', () => {
  assert.deepEqual(parseRtspUrl('rtsp://h:8554/live/cam1'), { name: 'cam1', token: null, control: null, backup: false });
  assert.deepEqual(parseRtspUrl('rtsp://h/live/cam1/trackID=1'), { name: 'cam1', token: null, control: 'trackID=1', backup: false });
  assert.deepEqual(parseRtspUrl('rtsp://h/live/cam1?token=abc/trackID=0'), { name: 'cam1', token: 'abc', control: 'trackID=0', backup: false });
  assert.deepEqual(parseRtspUrl('rtsp://h/live/key/streamid=0'), { name: 'key', token: null, control: 'streamid=0', backup: false });
  assert.equal(parseRtspUrl('rtsp://h/other/cam1'), null);
  assert.equal(parseRtspUrl('rtsp://h/live/'), null);
  assert.equal(parseRtspUrl('rtsp://h/live/a/b'), null);
});

test('auth: Basic and Digest (as ffmpeg answers a challenge) verify against the stream key; forged nonces fail', () => {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  let now = 1_000_000;
  const auth = new RtspAuth(() => now);
  const challenge = auth.challenges(true)[0]!;
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const uri = 'rtsp://127.0.0.1:8554/live/cam1';
  const response = md5(`${md5('cam1:Strom:secret')}:${nonce}:${md5(`ANNOUNCE:${uri}`)}`);
  const header = `Digest username="cam1", realm="Strom", nonce="${nonce}", uri="${uri}", response="${response}"`;
  const creds = parseAuthorization(header)!;
  assert.equal(auth.verify(creds, 'ANNOUNCE', 'secret'), 'ok');
  assert.equal(auth.verify(creds, 'ANNOUNCE', 'wrong'), 'bad');
  assert.equal(auth.verify(creds, 'SETUP', 'secret'), 'bad', 'the method is part of the response');
  now += 10 * 60_000;
  assert.equal(auth.verify(creds, 'ANNOUNCE', 'secret'), 'stale');
  assert.equal(auth.verify(parseAuthorization(header.replace(nonce, `${nonce.split('.')[0]}.0000`))!, 'ANNOUNCE', 'secret'), 'bad');
  const basic = parseAuthorization(`Basic ${Buffer.from('cam1:secret').toString('base64')}`)!;
  assert.deepEqual(basic, { scheme: 'basic', user: 'cam1', password: 'secret' });
  assert.equal(auth.verify(basic, 'DESCRIBE', 'secret'), 'ok');
  assert.equal(parseAuthorization('Bearer x'), null);
  assert.equal(parseAuthorization('Digest username="x"'), null);
});
