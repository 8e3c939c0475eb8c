/**
 * The bench's RTSP publisher: FLV tags → RTP over an RTSP connection (ANNOUNCE, SETUP per track
 * with TCP interleaved channels, RECORD), in real time, with Strom's own packetizers (H.264
 * RFC 6184 with STAP-A/FU-A, AAC RFC 3640 AAC-hbr) — the path an RTSP camera's packets take into
 * Strom. Records the wall time each video frame's last packet was handed to the socket, in order.
 */
import net from 'node:net';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, TAG, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { aacInfo } from '../../src/live/stream/codec-config.js';
import { packetizeAac } from '../../src/live/rtp/aac-rtp.js';
import { packetizeH264, parseAvcConfig, splitAvcc } from '../../src/live/rtp/h264-packetizer.js';
import { serializeRtp } from '../../src/live/rtp/rtp-packet.js';
import { interleavedFrame } from '../../src/live/rtsp/rtsp-message.js';
import { wallMs } from '../live/flv-viewer-scan.js';

/** Send one request and wait for its answer's status line and headers. */
async function request(s: net.Socket, lines: string[], body = ''): Promise<{ status: number; headers: string }> {
  s.write(`${lines.join('\r\n')}\r\n${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`);
  let buf = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      resolve({ status: Number(buf.split(' ')[1]), headers: buf.slice(0, end) });
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

/** Publish `tags` to rtsp://host:port/live/key in real time; returns the send wall time of each video frame, in order. */
export async function publishRtsp(tags: readonly FlvTag[], host: string, port: number, key: string, onStart: () => void): Promise<number[]> {
  const avc = tags.find((t) => t.type === TAG.VIDEO && t.body[1] === 0);
  const aac = tags.find((t) => t.type === TAG.AUDIO && t.body[1] === 0);
  if (!avc || !aac) throw new Error('the source needs an AVC and an AAC sequence header');
  const cfg = parseAvcConfig(avc.body.subarray(5))!;
  const asc = aac.body.subarray(2);
  const rate = aacInfo(asc).sampleRate ?? 44100;
  const url = `rtsp://${host}:${port}/live/${key}`;
  const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=bench', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', `a=fmtp:96 packetization-mode=1;sprop-parameter-sets=${cfg.sps[0]!.toString('base64')},${cfg.pps[0]!.toString('base64')}`, 'a=control:streamid=0',
    'm=audio 0 RTP/AVP 97', `a=rtpmap:97 MPEG4-GENERIC/${rate}/2`, `a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=${asc.toString('hex')}`, 'a=control:streamid=1', ''].join('\r\n');
  const s = net.connect(port, host);
  await new Promise((r) => s.once('connect', r));
  s.setNoDelay(true);
  const ok = (r: { status: number; headers: string }, what: string) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.headers.split('\r\n')[0]}`);
    return r;
  };
  ok(await request(s, [`ANNOUNCE ${url} RTSP/1.0`, 'CSeq: 1', 'Content-Type: application/sdp'], sdp), 'ANNOUNCE');
  const setup = ok(await request(s, [`SETUP ${url}/streamid=0 RTSP/1.0`, 'CSeq: 2', 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record']), 'SETUP video');
  const session = /Session: ([0-9a-f]+)/.exec(setup.headers)?.[1] ?? '';
  ok(await request(s, [`SETUP ${url}/streamid=1 RTSP/1.0`, 'CSeq: 3', `Session: ${session}`, 'Transport: RTP/AVP/TCP;unicast;interleaved=2-3;mode=record']), 'SETUP audio');
  ok(await request(s, [`RECORD ${url} RTSP/1.0`, 'CSeq: 4', `Session: ${session}`, 'Range: npt=0.000-']), 'RECORD');
  let vseq = 0;
  let aseq = 0;
  const sent: number[] = [];
  const t0 = wallMs();
  onStart();
  for (const tag of tags) {
    const wait = t0 + tag.timestamp - wallMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const u = tag.type === TAG.VIDEO ? videoToUnit(tag.body, tag.timestamp) : tag.type === TAG.AUDIO ? audioToUnit(tag.body, tag.timestamp) : null;
    if (u === null || u.config) continue;
    if (u.kind === 'video') {
      const nalus = splitAvcc(u.payload);
      const au = u.keyframe ? [...cfg.sps, ...cfg.pps, ...nalus] : nalus;
      for (const p of packetizeH264(au, 1400, true)) s.write(interleavedFrame(0, serializeRtp({ payloadType: 96, marker: p.marker, sequenceNumber: vseq++ & 0xffff, timestamp: u.pts * 90, ssrc: 1, payload: p.payload })));
      sent.push(wallMs());
    } else {
      const frags = packetizeAac(u.payload);
      frags.forEach((p, i) => s.write(interleavedFrame(2, serializeRtp({ payloadType: 97, marker: i === frags.length - 1, sequenceNumber: aseq++ & 0xffff, timestamp: Math.round((u.dts * rate) / 1000), ssrc: 2, payload: p }))));
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  s.destroy();
  return sent;
}
