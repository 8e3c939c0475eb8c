/**
 * AAC over RTP as `mpeg4-generic` (RFC 3640) in both directions. Each packet starts with the
 * AU-headers-length (16 bits, in bits, §3.2.1), then one AU header per access unit — `sizeLength`
 * bits of size and `indexLength` (first) / `indexDeltaLength` (others) bits of index — padded to a
 * byte, then the access units back to back (§3.2.3). AAC-hbr (sizeLength 13, index 3/3, §3.3.6)
 * is what ffmpeg, GStreamer and cameras send; the lengths come from the SDP `fmtp`, so AAC-lbr
 * (6/2/2) parses too. An access unit larger than one packet is fragmented (§3.2.3.3): every
 * fragment repeats the AU header with the full size and the marker is set on the last one.
 * Each AU lasts 1024 samples (AAC-LC frame), so AU i of a packet has timestamp ts + i × 1024
 * (§3.2.3.2 with constant duration, which the `mpeg4-generic` AAC modes require).
 */

/** AU header field widths (the `fmtp` sizelength / indexlength / indexdeltalength). */
export interface AuHeaderFormat {
  sizeLength: number;
  indexLength: number;
  indexDeltaLength: number;
}

/** AAC-hbr (RFC 3640 §3.3.6). */
export const AAC_HBR: AuHeaderFormat = { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 };

/** Samples per AAC-LC access unit. */
export const AAC_FRAME_SAMPLES = 1024;

/** One AAC frame out of the depacketizer, with its RTP timestamp. */
export interface AacFrame {
  frame: Buffer;
  timestamp: number;
}

/** Reassembles AAC access units from `mpeg4-generic` RTP packets (in sequence order). */
export class AacDepacketizer {
  /** Packets (or fragment runs) dropped as malformed or incomplete. */
  dropped = 0;
  private frag: Buffer[] | null = null;
  private fragSize = 0;
  private fragTs = 0;
  private lastSeq = -1;

  constructor(private readonly f: AuHeaderFormat = AAC_HBR) {}

  /** Feed one packet; returns the complete frames it carries or finishes. */
  push(seq: number, timestamp: number, marker: boolean, p: Buffer): AacFrame[] {
    const gap = this.lastSeq !== -1 && seq !== ((this.lastSeq + 1) & 0xffff);
    this.lastSeq = seq;
    if (this.frag !== null && (gap || timestamp !== this.fragTs)) this.dropFragment();
    if (p.length < 2) return this.bad();
    const headerBits = p.readUInt16BE(0);
    const headerBytes = Math.ceil(headerBits / 8);
    if (2 + headerBytes > p.length) return this.bad();
    const sizes: number[] = [];
    let bit = 16;
    const end = 16 + headerBits;
    for (let i = 0; bit < end; i++) {
      const width = this.f.sizeLength + (i === 0 ? this.f.indexLength : this.f.indexDeltaLength);
      if (bit + width > end) return this.bad();
      sizes.push(readBits(p, bit, this.f.sizeLength));
      bit += width;
    }
    const data = p.subarray(2 + headerBytes);
    if (this.frag !== null || (sizes.length === 1 && sizes[0]! > data.length)) return this.fragment(sizes, data, timestamp, marker);
    const out: AacFrame[] = [];
    let off = 0;
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      if (size === 0 || off + size > data.length) return this.bad(out);
      out.push({ frame: data.subarray(off, off + size), timestamp: (timestamp + i * AAC_FRAME_SAMPLES) >>> 0 });
      off += size;
    }
    return out;
  }

  private fragment(sizes: number[], data: Buffer, timestamp: number, marker: boolean): AacFrame[] {
    if (sizes.length !== 1) return this.bad();
    if (this.frag === null) {
      this.frag = [];
      this.fragSize = sizes[0]!;
      this.fragTs = timestamp;
    } else if (sizes[0] !== this.fragSize) return this.bad();
    this.frag.push(data);
    const have = this.frag.reduce((n, b) => n + b.length, 0);
    if (have > this.fragSize) return this.bad();
    if (!marker) return [];
    const frag = this.frag;
    this.frag = null;
    if (have !== this.fragSize) return this.bad();
    return [{ frame: Buffer.concat(frag), timestamp }];
  }

  private dropFragment(): void {
    this.frag = null;
    this.dropped++;
  }

  private bad(kept: AacFrame[] = []): AacFrame[] {
    this.frag = null;
    this.dropped++;
    return kept;
  }
}

/** `n` bits (≤ 16) of `b` starting at bit `bit` (MSB first). */
function readBits(b: Buffer, bit: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const at = bit + i;
    v = (v << 1) | ((b[at >> 3]! >> (7 - (at & 7))) & 1);
  }
  return v;
}

/**
 * Packetize one AAC frame as AAC-hbr: one AU per packet (a packet per frame keeps latency at one
 * frame), fragmented when it is larger than `maxPayload`.
 */
export function packetizeAac(frame: Buffer, maxPayload = 1200): Buffer[] {
  if (frame.length > 0x1fff) return []; // 13-bit AU size: an AAC-LC frame is at most 768 bytes per channel
  const header = Buffer.from([0x00, 0x10, frame.length >> 5, (frame.length & 0x1f) << 3]); // 16 header bits, size << 3 | index 0
  const step = maxPayload - header.length;
  const out: Buffer[] = [];
  for (let off = 0; off < frame.length || off === 0; off += step) out.push(Buffer.concat([header, frame.subarray(off, Math.min(frame.length, off + step))]));
  return out;
}
