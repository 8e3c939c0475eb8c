/**
 * NAL units → RTP payloads, for the codecs whose payload formats share one shape: H.264
 * (RFC 6184 §5.6–5.8) and H.265 (RFC 7798 §4.4.1–4.4.3). A NAL unit that fits the budget is
 * sent alone; a larger one is cut into fragmentation units (the codec's FU header replaces the NAL
 * header, whose type the FU header carries); with `aggregate`, consecutive small NAL units share
 * an aggregation packet (16-bit size + NAL unit each). The marker bit is set on the last packet
 * of the access unit (RFC 6184 §5.1, RFC 7798 §4.1).
 */

/** One RTP payload of a frame; `marker` is set on the last packet of the access unit. */
export interface RtpPayload {
  payload: Buffer;
  marker: boolean;
}

/** Default payload budget: 1200 bytes keeps SRTP + IP/UDP under a 1280-byte IPv6 minimum MTU. */
export const DEFAULT_MAX_PAYLOAD = 1200;

/** A codec's NAL header size and how it writes aggregation and fragmentation headers. */
export interface NalPayloadFormat {
  headerBytes: number;
  /** The aggregation packet's own NAL header for these NAL units. */
  aggregationHeader(nalus: readonly Buffer[]): Buffer;
  /** Payload header + FU header of a fragment of `nal`. */
  fragmentHeader(nal: Buffer, start: boolean, end: boolean): Buffer;
}

/** Packetize one access unit (NAL units without start codes or length prefixes). */
export function packetizeNals(nalus: readonly Buffer[], f: NalPayloadFormat, maxPayload = DEFAULT_MAX_PAYLOAD, aggregate = false): RtpPayload[] {
  const out: RtpPayload[] = [];
  const list = nalus.filter((n) => n.length >= f.headerBytes); // an empty or headless NAL unit has nothing to send
  for (let i = 0; i < list.length; i++) {
    const nal = list[i]!;
    if (aggregate) {
      let size = f.headerBytes + 2 + nal.length;
      let j = i + 1;
      while (j < list.length && size + 2 + list[j]!.length <= maxPayload) size += 2 + list[j++]!.length;
      if (j - i >= 2) {
        const group = list.slice(i, j);
        const parts: Buffer[] = [f.aggregationHeader(group)];
        for (const n of group) parts.push(Buffer.from([n.length >> 8, n.length & 0xff]), n);
        out.push({ payload: Buffer.concat(parts, size), marker: false });
        i = j - 1;
        continue;
      }
    }
    if (nal.length <= maxPayload) {
      out.push({ payload: nal, marker: false });
      continue;
    }
    const body = nal.subarray(f.headerBytes);
    const step = maxPayload - f.headerBytes - 1;
    for (let off = 0; off < body.length; off += step) {
      const end = Math.min(body.length, off + step);
      const header = f.fragmentHeader(nal, off === 0, end === body.length);
      const payload = Buffer.allocUnsafe(header.length + end - off); // one allocation per fragment
      header.copy(payload, 0);
      body.copy(payload, header.length, off, end);
      out.push({ payload, marker: false });
    }
  }
  if (out.length > 0) out[out.length - 1]!.marker = true;
  return out;
}
