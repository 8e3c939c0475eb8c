/**
 * What an RTSP reader is offered: the DESCRIBE SDP of a stream's tracks (H.264 sprop-parameter-sets
 * and profile-level-id, AAC mpeg4-generic config) and RTP payloads that a depacketizer turns back
 * into the same frames, with the stream's current parameter sets before each keyframe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aacConfigUnit, aacUnit, avcConfigUnit, avcDecoderConfig, avcUnit } from '../../src/live/formats/flv/unit-builders.js';
import { AacDepacketizer } from '../../src/live/rtp/aac-rtp.js';
import { H264Depacketizer } from '../../src/live/rtp/h264-depacketizer.js';
import { playTracks } from '../../src/live/rtsp/play-tracks.js';
import type { TrackConfig } from '../../src/live/stream/media-unit.js';

const sps1 = Buffer.from('6742c00dd90141fb0110', 'hex');
const sps2 = Buffer.from('6742c01ed9005005bb0110', 'hex');
const pps = Buffer.from('68cb8cb2', 'hex');
const asc = Buffer.from('1210', 'hex');

test('SDP fmtp from the stream configuration; keyframes carry the current SPS/PPS; payloads depacketize back', () => {
  const tracks: TrackConfig = {
    video: { codec: 'avc', codecString: 'avc1.42c00d', config: avcConfigUnit(avcDecoderConfig(sps1, [pps]), 0) },
    audio: { codec: 'aac', codecString: 'mp4a.40.2', sampleRate: 44100, channels: 2, config: aacConfigUnit(asc, 0) },
  };
  const [v, a] = playTracks(() => tracks);
  assert.equal(v!.sdp.rtpmap, 'H264/90000');
  assert.equal(v!.sdp.fmtp, `packetization-mode=1;profile-level-id=42C00D;sprop-parameter-sets=${sps1.toString('base64')},${pps.toString('base64')}`);
  assert.equal(a!.sdp.rtpmap, 'MPEG4-GENERIC/44100/2');
  assert.match(a!.sdp.fmtp, /mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210$/);
  assert.deepEqual([v!.sdp.control, a!.sdp.control], ['trackID=0', 'trackID=1']);

  const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(5000, 7)]);
  const key = avcUnit([idr], 0, 0, true);
  const d = new H264Depacketizer();
  const out = v!.payloads(key).flatMap((p, i) => d.push(i, 0, p.marker, p.payload));
  assert.deepEqual(out[0]!.nalus.map((n) => n.toString('hex')), [sps1, pps, idr].map((n) => n.toString('hex')));
  assert.equal(v!.payloads(key), key.rtpPayloads, 'built once, kept on the unit for every reader');

  tracks.video = { ...tracks.video!, config: avcConfigUnit(avcDecoderConfig(sps2, [pps]), 1000) }; // a new publisher, another size
  const d2 = new H264Depacketizer();
  const out2 = v!.payloads(avcUnit([idr], 1000, 1000, true)).flatMap((p, i) => d2.push(i, 90_000, p.marker, p.payload));
  assert.equal(out2[0]!.nalus[0]!.toString('hex'), sps2.toString('hex'));

  const frame = Buffer.alloc(300, 3);
  const [ap] = a!.payloads(aacUnit(frame, 0));
  assert.ok(new AacDepacketizer().push(1, 0, ap!.marker, ap!.payload)[0]!.frame.equals(frame));
});
