/**
 * PES packets (ISO/IEC 13818-1 §2.4.3.6 PES_packet, §2.4.3.7 semantics): reassembly from the
 * transport packets of one PID, the header with its 33-bit 90 kHz PTS/DTS, and the header the
 * muxer writes. Reassembly keeps views of the transport packets and copies once when the PES is
 * complete; a PES above `maxBytes` is dropped instead of growing without bound.
 */

/** stream_id values (§2.4.3.7 Table 2-22) the muxer writes. */
export const STREAM_ID = { PRIVATE_1: 0xbd, AUDIO: 0xc0, VIDEO: 0xe0 } as const;

/** stream_ids whose PES has no optional header (§2.4.3.6: program_stream_map, padding, private_stream_2, ECM, EMM, directory, DSM-CC, H.222.1 type E). */
const NO_HEADER = new Set([0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xff, 0xf2, 0xf8]);

/** A parsed PES packet. Timestamps are raw 33-bit 90 kHz values. */
export interface Pes {
  streamId: number;
  pts: number | null;
  dts: number | null;
  payload: Buffer;
}

/** Read a 33-bit PTS/DTS field (5 bytes with marker bits) at `off`. */
export function readTimestamp(b: Buffer, off: number): number {
  const hi = (b[off]! >> 1) & 7;
  const lo = (b[off + 1]! << 22) | ((b[off + 2]! >> 1) << 15) | (b[off + 3]! << 7) | (b[off + 4]! >> 1);
  return hi * 2 ** 30 + lo;
}

/** Write a PTS/DTS field with its 4-bit prefix ('0010' PTS only, '0011' PTS then DTS, '0001' DTS). */
export function writeTimestamp(b: Buffer, off: number, prefix: number, ts: number): void {
  const v = ((ts % 2 ** 33) + 2 ** 33) % 2 ** 33;
  const hi = Math.floor(v / 2 ** 30);
  const lo = v % 2 ** 30;
  b[off] = (prefix << 4) | (hi << 1) | 1;
  b[off + 1] = (lo >> 22) & 0xff;
  b[off + 2] = (((lo >> 15) & 0x7f) << 1) | 1;
  b[off + 3] = (lo >> 7) & 0xff;
  b[off + 4] = ((lo & 0x7f) << 1) | 1;
}

/** Parse a complete PES packet; null when the start code or header is inconsistent. */
export function parsePes(b: Buffer): Pes | null {
  if (b.length < 6 || b[0] !== 0 || b[1] !== 0 || b[2] !== 1) return null;
  const streamId = b[3]!;
  const declared = b.readUInt16BE(4);
  const end = declared === 0 ? b.length : Math.min(b.length, 6 + declared);
  if (NO_HEADER.has(streamId)) return { streamId, pts: null, dts: null, payload: b.subarray(6, end) };
  if (end < 9 || (b[6]! & 0xc0) !== 0x80) return null;
  const flags = b[7]! >> 6;
  const headerLength = b[8]!;
  const start = 9 + headerLength;
  if (start > end) return null;
  let pts: number | null = null;
  let dts: number | null = null;
  if (flags & 2 && headerLength >= 5) pts = readTimestamp(b, 9);
  if (flags === 3 && headerLength >= 10) dts = readTimestamp(b, 14);
  return { streamId, pts, dts, payload: b.subarray(start, end) };
}

/**
 * A PES header for `payloadBytes` of data with PTS (and DTS when it differs). PES_packet_length is
 * 0 ("unbounded", allowed for video only, §2.4.3.7) when the packet would exceed 65535 bytes.
 */
export function pesHeader(streamId: number, payloadBytes: number, pts: number, dts: number | null): Buffer {
  const withDts = dts !== null && dts !== pts;
  const headerLength = withDts ? 10 : 5;
  const h = Buffer.allocUnsafe(9 + headerLength);
  h[0] = 0;
  h[1] = 0;
  h[2] = 1;
  h[3] = streamId;
  const length = 3 + headerLength + payloadBytes;
  h.writeUInt16BE(length > 0xffff ? 0 : length, 4);
  h[6] = 0x84; // '10', not scrambled, data_alignment_indicator: an access unit starts here
  h[7] = withDts ? 0xc0 : 0x80;
  h[8] = headerLength;
  writeTimestamp(h, 9, withDts ? 3 : 2, pts);
  if (withDts) writeTimestamp(h, 14, 1, dts);
  return h;
}

/** What `PesAssembler.push` reports. */
export type PesPush = { done: Buffer } | { dropped: 'too-large' | 'truncated' } | null;

/** PES reassembly for one PID. */
export class PesAssembler {
  private chunks: Buffer[] = [];
  private size = 0;
  /** 6 + PES_packet_length, or 0 while unknown / unbounded. */
  private expected = 0;
  private active = false;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held for the PES in progress. */
  get pendingBytes(): number {
    return this.size;
  }

  /** Start a new PES (payload_unit_start_indicator); the caller has finished the previous one. */
  begin(): void {
    this.discard();
    this.active = true;
  }

  /** Add one packet payload; returns the PES when its declared length is complete, or a drop. */
  append(payload: Buffer): PesPush {
    if (!this.active) return null; // no start seen: the bytes belong to nothing we can use
    if (this.size + payload.length > this.maxBytes) {
      this.discard();
      return { dropped: 'too-large' };
    }
    this.chunks.push(payload);
    this.size += payload.length;
    if (this.expected === 0 && this.size >= 6) {
      const first = this.chunks[0]!.length >= 6 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const declared = first.readUInt16BE(4);
      if (declared !== 0) this.expected = 6 + declared;
    }
    if (this.expected !== 0 && this.size >= this.expected) return this.finish();
    return null;
  }

  /** End the PES in progress (end of stream, or the next payload_unit_start_indicator). */
  finish(): PesPush {
    if (!this.active) return null;
    const short = this.expected !== 0 && this.size < this.expected;
    const done = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.discard();
    if (short) return { dropped: 'truncated' };
    return done.length === 0 ? null : { done };
  }

  /** Forget the PES in progress (a continuity error lost some of its bytes). */
  discard(): void {
    this.chunks = [];
    this.size = 0;
    this.expected = 0;
    this.active = false;
  }

  /** True while a PES is being assembled. */
  get inProgress(): boolean {
    return this.active;
  }
}
