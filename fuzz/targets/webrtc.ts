/**
 * WebRTC input Strom parses itself: the WHIP/WHEP offer check run before werift sees an SDP
 * (RFC 8866 §5, RFC 9725 §4.2), and the H.264 RTP depacketizer shared by WHIP and RTSP ingest (RFC 6184 §5.6–5.8).
 */
import { checkOffer } from '../../src/live/webrtc/sdp-resource.js';
import { H264Depacketizer } from '../../src/live/rtp/h264-depacketizer.js';
import { invariant, rejectsOnlyWithCatalog, type FuzzTarget } from '../engine/target.js';

/** SDP offers: accepted or WEBRTC_BAD_SDP; an accepted offer has what the check promises. */
export const sdp: FuzzTarget = {
  name: 'sdp',
  checks: 'checkOffer accepts or throws WEBRTC_BAD_SDP only; an accepted offer starts with v=0, has an audio/video m= section, ice-ufrag and fingerprint',
  dict: ['v=0\r\n', 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\n', 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n', 'a=sendonly\r\n', 'a=recvonly\r\n', 'a=inactive\r\n', 'a=sendrecv\r\n', 'a=ice-ufrag:abcd\r\n', 'a=fingerprint:sha-256 AA:BB\r\n', '\n', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n'],
  maxLen: 8192,
  run(input) {
    const text = input.toString('utf8');
    for (const sends of [true, false]) {
      let ok = false;
      rejectsOnlyWithCatalog(() => {
        checkOffer(text, sends);
        ok = true;
      }, ['WEBRTC_BAD_SDP']);
      if (ok) {
        invariant(/^v=0\r?\n/.test(text), 'accepted an offer not starting with v=0');
        invariant(/\nm=(audio|video) /.test(text), 'accepted an offer without audio/video');
        invariant(/\na=ice-ufrag:/.test(text) && /\na=fingerprint:/.test(text), 'accepted an offer without ICE/DTLS credentials');
      }
    }
  },
};

const MAX_AU = 16 * 1024;

/** RTP H.264: the input is a packet list [len:2][seqStep:1][flags:1][payload]; AUs are complete and bounded. */
export const rtpH264: FuzzTarget = {
  name: 'rtp-h264',
  checks: 'never throws; every access unit ≤ maxBytes, has ≥ 1 non-empty NAL unit, after a loss the next access unit emitted is an IDR',
  dict: [Buffer.from([0x7c, 0x85]), Buffer.from([0x7c, 0x05]), Buffer.from([0x7c, 0x45]), Buffer.from([0x78, 0, 2]), Buffer.from([0x65]), Buffer.from([0x41]), Buffer.from([0x67, 0x42]), Buffer.from([0x68]), Buffer.from([0, 0, 1, 1])],
  maxLen: 64 * 1024,
  run(input) {
    const d = new H264Depacketizer(MAX_AU);
    let seq = 65_530;
    let ts = 0;
    let needKey = false;
    for (let off = 0; off + 4 <= input.length;) {
      const len = input.readUInt16BE(off) % 2048;
      const step = input[off + 2]!;
      const flags = input[off + 3]!;
      const payload = input.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      seq = (seq + (step % 4 === 0 ? 2 : 1)) & 0xffff; // every fourth step value skips one: a loss
      if (flags & 2) ts += 3000;
      const units = d.push(seq, ts, (flags & 1) !== 0, payload);
      for (const au of units) {
        const bytes = au.nalus.reduce((s, n) => s + n.length, 0);
        invariant(bytes <= MAX_AU, `access unit of ${bytes} bytes over ${MAX_AU}`);
        invariant(au.nalus.length > 0 && au.nalus.every((n) => n.length > 0), 'access unit with an empty NAL unit');
        if (needKey) invariant(au.keyframe, 'delta frame emitted after a loss before any IDR');
        needKey = false;
      }
      needKey ||= d.needKeyframe;
    }
  },
};
