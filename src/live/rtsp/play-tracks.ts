/**
 * The tracks an RTSP reader is offered, from the stream's decoder configurations: the SDP of
 * DESCRIBE (H.264 with `sprop-parameter-sets` and `profile-level-id`, RFC 6184 §8.1; H.265 with
 * `sprop-vps/sps/pps`, RFC 7798 §7.1; AAC as `mpeg4-generic` AAC-hbr with its `config`, RFC 3640
 * §4.1; Opus as `OPUS/48000/2`, RFC 7587 §7) and the RTP payloads of each unit. Payloads are built
 * once per unit and kept on it (`MediaUnit.rtpPayloads`), so N readers share them and only add
 * their own RTP headers. Parameter sets are sent again before every keyframe (when the encoder did
 * not put them in-band), so a reader can start at any keyframe — the stream's current ones, so a
 * new publisher's picture size reaches readers at its first keyframe.
 */
import { aacInfo } from '../stream/codec-config.js';
import type { MediaUnit, TrackConfig } from '../stream/media-unit.js';
import { packetizeAac } from '../rtp/aac-rtp.js';
import { packetizeH264, splitAvcc } from '../rtp/h264-packetizer.js';
import { packetizeH265 } from '../rtp/h265-rtp.js';
import { parseAvcConfig, parseHevcConfig } from '../formats/video/nal.js';
import type { SdpTrack } from './sdp.js';

/** RTP payload budget: a 1500-byte Ethernet MTU minus IP/UDP/RTP headers, with room to spare. */
const MAX_PAYLOAD = 1400;

/** One outgoing track of a stream. */
export interface PlayTrack {
  sdp: SdpTrack;
  clockRate: number;
  /** Which units of the stream belong here. */
  kind: 'video' | 'audio';
  /** RTP payloads of one (non-config) unit; cached on the unit. */
  payloads(u: MediaUnit): ReadonlyArray<{ payload: Buffer; marker: boolean }>;
}

/** The tracks of a stream Strom can send over RTP (other codecs are left out of the SDP); `current` gives the stream's configuration as it changes. */
export function playTracks(current: () => TrackConfig): PlayTrack[] {
  const out: PlayTrack[] = [];
  const tracks = current();
  const v = tracks.video;
  if (v?.codec === 'avc' || v?.codec === 'hevc') {
    const avc = v.codec === 'avc';
    const parsed = avc ? parseAvcConfig(v.config.payload) : parseHevcConfig(v.config.payload);
    if (parsed !== null) {
      let params = parsed.nalus;
      let lengthSize = parsed.lengthSize;
      let config = v.config;
      const type = (n: Buffer) => (avc ? n[0]! & 0x1f : (n[0]! >> 1) & 0x3f);
      const isParam = (n: Buffer) => (avc ? type(n) === 7 || type(n) === 8 : type(n) >= 32 && type(n) <= 34);
      const b64 = (t: number) => params.filter((n) => type(n) === t).map((n) => n.toString('base64')).join(',');
      const sps = params.find((n) => type(n) === 7);
      const fmtp = avc
        ? `packetization-mode=1${sps && sps.length >= 4 ? `;profile-level-id=${sps.subarray(1, 4).toString('hex').toUpperCase()}` : ''};sprop-parameter-sets=${b64(7)},${b64(8)}`
        : `sprop-vps=${b64(32)};sprop-sps=${b64(33)};sprop-pps=${b64(34)}`;
      out.push({
        kind: 'video',
        clockRate: 90000,
        sdp: { kind: 'video', payloadType: 96, rtpmap: `${avc ? 'H264' : 'H265'}/90000`, fmtp, control: `trackID=${out.length}` },
        payloads(u) {
          if (u.rtpPayloads) return u.rtpPayloads;
          const now = current().video?.config;
          if (now !== undefined && now !== config && now.codec === v.codec) { // a new publisher's (or encoder's) parameter sets
            const p = avc ? parseAvcConfig(now.payload) : parseHevcConfig(now.payload);
            if (p !== null) ({ nalus: params, lengthSize } = p);
            config = now;
          }
          const nalus = splitAvcc(u.payload, lengthSize).filter((n) => type(n) !== (avc ? 9 : 35)); // access unit delimiters carry nothing here
          const au = u.keyframe && !nalus.some(isParam) ? [...params, ...nalus] : nalus;
          u.rtpPayloads = avc ? packetizeH264(au, MAX_PAYLOAD, true) : packetizeH265(au, MAX_PAYLOAD, true);
          return u.rtpPayloads;
        },
      });
    }
  }
  const a = tracks.audio;
  if (a?.codec === 'aac') {
    const info = aacInfo(a.config.payload);
    const rate = info.sampleRate ?? 44100;
    const fmtp = `profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=${a.config.payload.toString('hex')}`;
    out.push({
      kind: 'audio',
      clockRate: rate,
      sdp: { kind: 'audio', payloadType: 97, rtpmap: `MPEG4-GENERIC/${rate}/${info.channels || 2}`, fmtp, control: `trackID=${out.length}` },
      payloads(u) {
        u.rtpPayloads ??= packetizeAac(u.payload, MAX_PAYLOAD).map((payload, i, all) => ({ payload, marker: i === all.length - 1 }));
        return u.rtpPayloads;
      },
    });
  } else if (a?.codec === 'opus') {
    const channels = a.config.payload[9] ?? 2; // OpusHead channel count (RFC 7845 §5.1)
    out.push({
      kind: 'audio',
      clockRate: 48000,
      sdp: { kind: 'audio', payloadType: 97, rtpmap: 'OPUS/48000/2', fmtp: channels >= 2 ? 'sprop-stereo=1' : 'sprop-stereo=0', control: `trackID=${out.length}` },
      payloads(u) {
        u.rtpPayloads ??= [{ payload: u.payload, marker: true }];
        return u.rtpPayloads;
      },
    });
  }
  return out;
}
