/**
 * The SDP (RFC 8866) that RTSP carries: parsed from a publisher's ANNOUNCE and built for a reader's
 * DESCRIBE. Only what RTSP media description needs is read — `m=` lines, `a=rtpmap` (§6.6),
 * `a=fmtp` (§6.15), `a=control` (RFC 2326 C.1.1 / RFC 7826 §D.1) — and the input is bounded:
 * at most MAX_MEDIA media sections and MAX_LINES lines; anything else is ignored, so an encoder's
 * extra attributes never make an ANNOUNCE fail. A malformed line that matters (an `m=` or
 * `a=rtpmap` that does not parse) is an RTSP_PROTOCOL error naming the line.
 */
import { fail } from '../../errors.js';

/** Media sections one SDP may describe. */
export const MAX_MEDIA = 8;
/** Lines one SDP may have. */
const MAX_LINES = 500;

/** One `m=` section. */
export interface SdpMedia {
  /** `video`, `audio`, `application`… */
  kind: string;
  /** The first payload type of the `m=` line (RTSP publishers send one per section). */
  payloadType: number;
  /** Encoding name from `a=rtpmap`, upper-cased (`H264`, `H265`, `MPEG4-GENERIC`, `OPUS`…). */
  encoding: string;
  clockRate: number;
  channels: number;
  /** `a=fmtp` parameters, keys lower-cased (RFC 8866 §6.15: the format's own syntax; all ours are key=value;…). */
  fmtp: Map<string, string>;
  /** `a=control` value, or '' when absent. */
  control: string;
}

/** A parsed session description. */
export interface SessionDescription {
  /** Session-level `a=control`, or ''. */
  control: string;
  media: SdpMedia[];
}

/** Static payload types a publisher may use without `a=rtpmap` (RFC 3551 §6). */
const STATIC_TYPES: Record<number, [string, number, number]> = { 0: ['PCMU', 8000, 1], 8: ['PCMA', 8000, 1], 14: ['MPA', 90000, 1], 26: ['JPEG', 90000, 0], 32: ['MPV', 90000, 0], 33: ['MP2T', 90000, 0] };

/** Parse an SDP body; throws RTSP_PROTOCOL on an unusable `m=` or `a=rtpmap` line. */
export function parseSdp(text: string): SessionDescription {
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw fail('RTSP_PROTOCOL', `SDP of ${lines.length} lines (at most ${MAX_LINES})`);
  const sdp: SessionDescription = { control: '', media: [] };
  let m: SdpMedia | null = null;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const v = line.slice(2);
    if (line[0] === 'm') {
      const parts = v.split(' ');
      const pt = Number(parts[3]);
      if (parts.length < 4 || !Number.isInteger(pt) || pt < 0 || pt > 127) throw fail('RTSP_PROTOCOL', `SDP media line ${JSON.stringify(line.slice(0, 80))} has no payload type`);
      if (sdp.media.length >= MAX_MEDIA) throw fail('RTSP_PROTOCOL', `SDP describes more than ${MAX_MEDIA} media`);
      const st = STATIC_TYPES[pt];
      m = { kind: parts[0]!, payloadType: pt, encoding: st?.[0] ?? '', clockRate: st?.[1] ?? 0, channels: st?.[2] ?? 0, fmtp: new Map(), control: '' };
      sdp.media.push(m);
      continue;
    }
    if (line[0] !== 'a') continue;
    const colon = v.indexOf(':');
    const name = colon < 0 ? v : v.slice(0, colon);
    const value = colon < 0 ? '' : v.slice(colon + 1);
    if (name === 'control') {
      if (m === null) sdp.control = value;
      else m.control = value;
    } else if (m !== null && (name === 'rtpmap' || name === 'fmtp')) {
      const sp = value.indexOf(' ');
      if (Number(value.slice(0, sp)) !== m.payloadType) continue; // another payload type of the section: unused
      const rest = value.slice(sp + 1).trim();
      if (name === 'rtpmap') {
        const [enc, rate, ch] = rest.split('/');
        const clockRate = Number(rate);
        if (!enc || !Number.isInteger(clockRate) || clockRate <= 0) throw fail('RTSP_PROTOCOL', `SDP rtpmap ${JSON.stringify(value.slice(0, 80))} has no clock rate`);
        m.encoding = enc.toUpperCase();
        m.clockRate = clockRate;
        m.channels = ch === undefined ? 1 : Math.max(1, Math.min(255, Number(ch) || 1));
      } else {
        for (const kv of rest.split(';')) {
          const eq = kv.indexOf('=');
          if (eq > 0) m.fmtp.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
        }
      }
    }
  }
  return sdp;
}

/** One track of an SDP Strom writes. */
export interface SdpTrack {
  kind: 'video' | 'audio';
  payloadType: number;
  /** `H264/90000`, `MPEG4-GENERIC/44100/2`… */
  rtpmap: string;
  /** The `a=fmtp` parameters after the payload type, or ''. */
  fmtp: string;
  control: string;
}

/** Build the SDP of a DESCRIBE answer (RFC 7826 Appendix D: session-level `a=control:*`, one section per track). */
export function buildSdp(o: { sessionId: number; address: string; name: string; tracks: readonly SdpTrack[] }): string {
  const ip6 = o.address.includes(':');
  const lines = [
    'v=0',
    `o=- ${o.sessionId} 1 IN ${ip6 ? 'IP6' : 'IP4'} ${o.address}`,
    `s=${o.name.replace(/[\r\n]/g, '')}`,
    `c=IN ${ip6 ? 'IP6 ::' : 'IP4 0.0.0.0'}`,
    't=0 0',
    'a=tool:strom',
    'a=control:*',
    'a=range:npt=now-',
  ];
  for (const t of o.tracks) {
    lines.push(`m=${t.kind} 0 RTP/AVP ${t.payloadType}`, `a=rtpmap:${t.payloadType} ${t.rtpmap}`);
    if (t.fmtp !== '') lines.push(`a=fmtp:${t.payloadType} ${t.fmtp}`);
    lines.push(`a=control:${t.control}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}
