/**
 * Rebuilds the seed corpus fuzz/corpus/<target>/ from real producers: ffmpeg (RTMP publish
 * captured on a TCP socket, RTP and SRT datagrams captured on UDP sockets, MPEG-TS and FLV files),
 * curl and undici request heads, a headless Chromium WebRTC offer, plus a few hand-written
 * documents (CMCD examples of CTA-5004, tus-js-client metadata, captions). Seeds are kept small
 * (a few KB) so mutations stay fast. Run: npx tsx fuzz/make-corpus.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { request } from 'undici';
import { ChunkReader } from '../src/live/rtmp/chunk-reader.js';
import { chunkMessage, CSID, MSG } from '../src/live/rtmp/chunk-writer.js';
import { HANDSHAKE_SIZE, ServerHandshake } from '../src/live/rtmp/handshake.js';
import { FlvDemuxer } from '../src/live/formats/flv/flv-demuxer.js';
import { CTRL, controlPacket, lossListCif } from '../src/live/srt/protocol/packet.js';
import { buildHandshake, HS_TYPE, SRT_MAGIC, STROM_SRT_FLAGS } from '../src/live/srt/protocol/handshake.js';
import { FUZZ_DIR } from './engine/corpus.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'strom-corpus-'));
const SRC = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=22050'];
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5', '-pix_fmt', 'yuv420p'];

/** Writes `files` as fuzz/corpus/<target>/<name>, replacing the folder. */
function put(target: string, files: Record<string, Buffer | string>): void {
  const dir = path.join(FUZZ_DIR, 'corpus', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
}

/** Runs ffmpeg to a file and returns its bytes. */
function ffmpegFile(name: string, args: string[]): Buffer {
  const file = path.join(tmp, name);
  const r = spawnSync('ffmpeg', [...SRC, ...args, '-y', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
  return readFileSync(file);
}

/** Runs ffmpeg with `args` for `ms`, then stops it. */
async function ffmpegFor(args: string[], ms: number): Promise<void> {
  const live = SRC.flatMap((a) => (a === 'lavfi' ? [a] : a === '-f' ? ['-re', a] : [a]));
  const p = spawn('ffmpeg', [...live, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, ms));
  p.kill('SIGKILL');
}

/** What ffmpeg sends an RTMP server that completes the handshake and answers nothing else. */
async function rtmpCapture(): Promise<Buffer> {
  const got: Buffer[] = [];
  const server = net.createServer((sock) => {
    const hs = new ServerHandshake();
    sock.on('data', (d) => {
      got.push(d);
      try {
        const step = hs.feed(d);
        if (step.reply) sock.write(step.reply);
      } catch { /* past the handshake */ }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await ffmpegFor(['-t', '2', ...H264, '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/key`], 1500);
  server.close();
  return Buffer.concat(got);
}

/** Datagrams ffmpeg sends to a UDP port with `url(port)` for `ms`. */
async function udpCapture(url: (port: number) => string, args: string[], ms: number, max: number): Promise<Buffer[]> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => { if (got.length < max) got.push(m); });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  await ffmpegFor([...args, url(sock.address().port)], ms);
  sock.close();
  return got;
}

/** A request head as `send` delivers it to a TCP server. */
async function headOf(send: (port: number) => Promise<unknown>): Promise<Buffer> {
  let head = Buffer.alloc(0);
  const server = net.createServer((sock) => sock.on('data', (d) => {
    head = Buffer.concat([head, d]);
    sock.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await send((server.address() as net.AddressInfo).port).catch(() => {});
  server.close();
  return head;
}

/** A WebRTC offer from headless Chromium: `direction` transceivers for audio and video. */
async function chromiumOffer(direction: 'sendonly' | 'recvonly'): Promise<string> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    return await page.evaluate(async (dir) => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: dir });
      pc.addTransceiver('video', { direction: dir });
      const o = await pc.createOffer();
      return o.sdp ?? '';
    }, direction);
  } finally {
    await browser.close();
  }
}

// --- MPEG-TS and FLV files -------------------------------------------------------------------
const ts = ffmpegFile('a.ts', ['-t', '1', ...H264, '-c:a', 'aac', '-f', 'mpegts']);
put('ts-demux', { 'ffmpeg-h264-aac-40pkt.mpegts': ts.subarray(0, 188 * 40), 'ffmpeg-h264-aac-tail.mpegts': ts.subarray(ts.length - 188 * 12) });
const flvFile = ffmpegFile('a.flv', ['-t', '1', ...H264, '-c:a', 'aac', '-f', 'flv']);
// A header whose DataOffset (E.2) reaches 200 bytes past the 9-byte header: the skip spans reads.
const longHeader = Buffer.concat([flvFile.subarray(0, 9), Buffer.alloc(200, 0xee), flvFile.subarray(9, 3000)]);
longHeader.writeUInt32BE(209, 5);
put('flv', { 'ffmpeg-h264-aac-head.flv': flvFile.subarray(0, 6000), 'regression-long-header.flv': longHeader });

// --- RTMP: ffmpeg's handshake + connect, and a publish built from the FLV tags ---------------
const rtmp = await rtmpCapture();
const c0c1c2 = rtmp.subarray(0, 1 + 2 * HANDSHAKE_SIZE);
const afterHs = rtmp.subarray(1 + 2 * HANDSHAKE_SIZE);
const tags = new FlvDemuxer().push(flvFile).slice(0, 6);
const media = tags.map((t) => chunkMessage(t.type === 9 ? CSID.VIDEO : t.type === 8 ? CSID.AUDIO : CSID.DATA, t.type, 1, t.timestamp, t.body, 128));
put('rtmp-chunk', { 'ffmpeg-handshake-connect.bin': rtmp, 'handshake-then-flv-tags.bin': Buffer.concat([c0c1c2, afterHs, ...media]).subarray(0, 16 * 1024) });
const amf: Buffer[] = [];
new ChunkReader({ maxMessageBytes: 1 << 20, maxChunkStreams: 64 }, (m) => { if (m.typeId === MSG.COMMAND_AMF0 || m.typeId === MSG.DATA_AMF0) amf.push(m.payload); }).push(afterHs);
const script = tags.find((t) => t.type === 18);
put('amf0', { ...Object.fromEntries(amf.map((b, i) => [`ffmpeg-command-${i}.amf`, b])), ...(script ? { 'ffmpeg-onmetadata.amf': script.body } : {}) });

// --- RTP (ffmpeg's H.264 payloader, RFC 6184 packetization-mode 1) ---------------------------
const rtp = await udpCapture((p) => `rtp://127.0.0.1:${p}`, ['-an', ...H264, '-payload_type', '96', '-pkt_size', '300', '-f', 'rtp'], 2500, 60);
const framed = (pkts: Buffer[]): Buffer => {
  let prevTs = -1;
  return Buffer.concat(pkts.map((p) => {
    const ts = p.readUInt32BE(4);
    const head = Buffer.from([0, 0, 1, ((p[1]! & 0x80) ? 1 : 0) | (ts !== prevTs && prevTs !== -1 ? 2 : 0)]);
    prevTs = ts;
    const payload = p.subarray(12);
    head.writeUInt16BE(payload.length, 0);
    return Buffer.concat([head, payload]);
  }));
};
const half = rtp.length >> 1;
put('rtp-h264', { 'ffmpeg-rtp-first.bin': framed(rtp.slice(0, half)), 'ffmpeg-rtp-next.bin': framed(rtp.slice(half)) });

// --- SRT: ffmpeg caller's induction handshake; conclusion, NAK, data built by Strom ----------
const srt = await udpCapture((p) => `srt://127.0.0.1:${p}?mode=caller&streamid=%23!::r=cam1,m=publish`, ['-t', '1', ...H264, '-an', '-f', 'mpegts'], 800, 2);
const conclusion = controlPacket(CTRL.HANDSHAKE, 0, 0, 1000, 0, buildHandshake({ version: 5, extensionField: SRT_MAGIC, initialSeq: 12345, type: HS_TYPE.CONCLUSION, socketId: 77, cookie: 0x1234, hsreq: { version: 0x010501, flags: STROM_SRT_FLAGS, rcvLatencyMs: 120, sndLatencyMs: 120 }, streamId: '#!::r=cam1,m=publish' }));
const nak = controlPacket(CTRL.NAK, 0, 0, 2000, 77, lossListCif([[10, 10], [20, 25], [0x7ffffff0, 3]]));
const data = Buffer.concat([Buffer.from([0, 0, 0x30, 0x39, 0xc0, 0, 0, 1, 0, 0, 0x03, 0xe8, 0, 0, 0, 77]), ts.subarray(0, 188 * 7)]);
put('srt-packet', { ...Object.fromEntries(srt.map((b, i) => [`ffmpeg-caller-${i}.bin`, b])), 'conclusion.bin': conclusion, 'nak.bin': nak, 'data.bin': data });
// Receiver records [kind][offset:2][flags]: in order, a gap, its repair, a latency drop, a DROPREQ.
put('srt-receiver', { 'loss-recover-drop.bin': Buffer.from([0, 0, 0, 1, 0, 0, 2, 1, 0, 0, 1, 1, 6, 0, 0, 0x80, 0, 0, 5, 1, 0, 0, 3, 0, 6, 0, 0, 0xff, 7, 0, 0x10, 0]) });
put('srt-streamid', { 'access-control.txt': '#!::r=cam1,m=publish,token=abc', 'read.txt': 'read:live_abc?token=t0k', 'bare.txt': 'streamkey123', 'backup.txt': '#!::r=cam1,m=publish,backup=1' });

// --- HTTP heads: curl and undici, as sent on the wire ---------------------------------------
const curl = await headOf((port) => new Promise((r) => spawn('curl', ['-s', `http://127.0.0.1:${port}/v/abc123/1080p/seg_001.m4s`], { stdio: 'ignore' }).on('exit', r)));
const curlHead = await headOf((port) => new Promise((r) => spawn('curl', ['-s', '-I', '-H', 'Range: bytes=0-99', `http://127.0.0.1:${port}/v/abc123/master.m3u8`], { stdio: 'ignore' }).on('exit', r)));
const undiciHead = await headOf((port) => request(`http://127.0.0.1:${port}/v/abc123/720p/init.mp4`, { headers: { 'if-none-match': '"x1"' } }));
put('lean-http', { 'curl-get.http': curl, 'curl-head-range.http': curlHead, 'undici-conditional.http': undiciHead });
put('range', {
  'single.txt': Buffer.concat([Buffer.from([200]), Buffer.from('bytes=0-499\n"abc"\n\nSun, 06 Nov 1994 08:49:37 GMT')]),
  'multi.txt': Buffer.concat([Buffer.from([40]), Buffer.from('bytes=0-0, -1, 500-\n\nW/"abc", "def"\n"abc"')]),
  'suffix.txt': Buffer.concat([Buffer.from([3]), Buffer.from('bytes=-100\n*\n*\nW/"abc"')]),
});

// --- WebRTC offers: Chromium (WHIP sends, WHEP receives) and ffmpeg's RTP SDP ---------------
const sdpFile = path.join(tmp, 'a.sdp');
spawnSync('ffmpeg', [...SRC, '-t', '0.2', '-an', ...H264, '-f', 'rtp', '-sdp_file', sdpFile, 'rtp://127.0.0.1:5999'], { stdio: 'ignore' });
put('sdp', { 'chromium-whip-offer.sdp': await chromiumOffer('sendonly'), 'chromium-whep-offer.sdp': await chromiumOffer('recvonly'), 'ffmpeg-rtp.sdp': readFileSync(sdpFile) });

// --- Query strings and headers ----------------------------------------------------------------
put('cmcd', {
  'cta5004-query.txt': 'CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Cd%3D4004%2Cmtp%3D25400%2Cot%3Dv%2Crtp%3D15000%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Ctb%3D6000',
  'cta5004-headers.txt': 'a=1\nbl=21300,dl=18500,mtp=48100,nor="..%2F300kbps%2Ftrack.m4v",nrr="12323-48763",su\nbr=3200,d=4004,ot=v,tb=6000\nbs,rtp=12000\ncid="faec5fc2-ac30-11ea-bb37-0242ac130002",pr=1.08,sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v',
  'v2-lists.txt': 'CMCD=br%3D(3200%201600)%2Cltc%3D1200%2Csid%3D%22s1%22',
});
put('ll-hls-query', { 'msn-part.txt': '_HLS_msn=12&_HLS_part=3', 'skip.txt': '_HLS_msn=5&_HLS_skip=YES&token=abc', 'msn.txt': '_HLS_msn=0' });
put('tus-headers', {
  'tus-js-client.txt': `filename ${Buffer.from('clip.mp4').toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`,
  'title-visibility.txt': `title ${Buffer.from('My holiday 🎬').toString('base64')},visibility ${Buffer.from('signed').toString('base64')},is_confidential`,
});
put('captions', {
  'basic.vtt': 'WEBVTT - sample\n\nSTYLE\n::cue { color: yellow }\n\nNOTE a comment\n\n1\n00:00:01.000 --> 00:00:03.500 line:0 align:start\n<b>Hello</b> there\n\n00:01:02.250 --> 00:01:04.000\nSecond cue\nwith two lines\n',
  'basic.srt': '1\r\n00:00:01,000 --> 00:00:02,500\r\nFirst subtitle\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,000\r\n<i>Second</i>\r\n',
});
put('fmp4', {
  'ffmpeg-avc-aac.mp4': ffmpegFile('frag.mp4', [...H264, '-c:a', 'aac', '-t', '0.3', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4']),
});
put('m3u8', {
  'ffmpeg-ts-live.m3u8': '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000000,\ns7.ts\n#EXTINF:1.000000,\ns8.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:0.960000,\ns9.ts\n',
  'ffmpeg-fmp4.m3u8': '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI="init_0.mp4"\n#EXTINF:1.000000,\ns0_0.m4s\n#EXTINF:1.000000,\ns0_1.m4s\n#EXT-X-ENDLIST\n',
  'ffmpeg-master-audio.m3u8': '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio_1",DEFAULT=YES,URI="p1.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x240,CODECS="avc1.42c00d,mp4a.40.2",AUDIO="group_aud"\np0.m3u8\n\n#EXT-X-STREAM-INF:BANDWIDTH=75900,CODECS="mp4a.40.2",AUDIO="group_aud"\np1.m3u8\n',
  'byterange.m3u8': '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:4\n#EXT-X-MAP:URI="main.mp4",BYTERANGE="720@0"\n#EXTINF:4.0,\n#EXT-X-BYTERANGE:75232@720\nmain.mp4\n#EXTINF:4.0,\n#EXT-X-BYTERANGE:82112\nmain.mp4\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-ENDLIST\n',
  'll-hls.m3u8': '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=12\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-MAP:URI="init_abc.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T12:00:00.000Z\n#EXT-X-PART:DURATION=0.5,URI="part_abc_12.m4s",INDEPENDENT=YES\n#EXTINF:2.000,\nseg_abc_3.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_abc_13.m4s"\n',
});
rmSync(tmp, { recursive: true, force: true });
process.stdout.write('corpus written\n');
