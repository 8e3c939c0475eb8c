/**
 * Incremental RTMP chunk stream parser (Adobe RTMP 1.0 §5.3.1): basic header in its 1/2/3-byte
 * forms, message headers of type 0–3 (11/7/3/0 bytes), extended timestamps (also on type-3
 * continuation chunks after an extended header, as ffmpeg/OBS send them), Set Chunk Size and Abort.
 *
 * Why this shape: socket reads arrive in arbitrary splits, so the parser keeps a list of received
 * Buffers plus an offset and never concatenates the list. A message that fits in one contiguous
 * chunk is handed out as a zero-copy `subarray`; a multi-chunk message collects subarrays and is
 * joined once when complete (memory follows bytes received, not the declared length). Limits make hostile input cheap: a declared length above
 * `maxMessageBytes` or more than `maxChunkStreams` chunk stream ids throws RTMP_LIMIT before
 * anything is allocated, and the session closes.
 */
import { fail } from '../../errors.js';

/** One reassembled RTMP message. */
export interface RtmpMessage {
  /** Chunk stream id it arrived on. */
  csid: number;
  /** Message type id (1–6 protocol control, 8 audio, 9 video, 18/20 AMF0 data/command...). */
  typeId: number;
  /** Message stream id (0 for the NetConnection). */
  streamId: number;
  /** Absolute timestamp in ms (32-bit, may wrap). */
  timestamp: number;
  payload: Buffer;
}

/** Limits applied to a peer's chunk stream. */
export interface ChunkReaderLimits {
  maxMessageBytes: number;
  maxChunkStreams: number;
}

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  /** Received pieces of a multi-chunk message (subarrays of socket reads), joined once at the end. */
  parts: Buffer[] | null;
  filled: number;
}

/** Parses chunks into messages; `push` throws a StromError on protocol violations. */
export class ChunkReader {
  /** Peer's current chunk size (Set Chunk Size changes it). */
  chunkSize = 128;
  private bufs: Buffer[] = [];
  private head = 0;
  private avail = 0;
  private readonly streams = new Map<number, ChunkStreamState>();
  /** Chunk stream whose payload bytes are being read, and how many remain in this chunk. */
  private cur: ChunkStreamState | null = null;
  private curRemaining = 0;
  private curId = 0;
  private stopped = false;

  constructor(
    private readonly limits: ChunkReaderLimits,
    private readonly onMessage: (msg: RtmpMessage) => void,
  ) {}

  /** Feed received bytes; emits every complete message synchronously. */
  push(data: Buffer): void {
    if (this.stopped) return;
    if (data.length > 0) {
      this.bufs.push(data);
      this.avail += data.length;
    }
    while (!this.stopped) {
      if (this.cur !== null) {
        if (!this.readPayload()) return;
      } else if (!this.readHeader()) return;
    }
  }

  /** Abort message (§5.4.2): drop the partial message on `csid`. */
  abort(csid: number): void {
    const cs = this.streams.get(csid);
    if (cs) {
      cs.parts = null;
      cs.filled = 0;
    }
  }

  /** Stop parsing and release buffered input. */
  destroy(): void {
    this.stopped = true;
    this.bufs = [];
    this.avail = 0;
    this.streams.clear();
    this.cur = null;
  }

  /** Return `n` bytes at the read position without consuming: zero-copy when contiguous. */
  private peek(n: number): Buffer {
    const first = this.bufs[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    let pos = this.head;
    for (const b of this.bufs) {
      const take = Math.min(b.length - pos, n - off);
      b.copy(out, off, pos, pos + take);
      off += take;
      pos = 0;
      if (off === n) break;
    }
    return out;
  }

  private consume(n: number): void {
    this.avail -= n;
    while (n > 0) {
      const first = this.bufs[0]!;
      const left = first.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.bufs.shift();
      this.head = 0;
    }
  }

  private readHeader(): boolean {
    if (this.avail < 1) return false;
    const b0 = this.peek(1)[0]!;
    const fmt = b0 >> 6;
    const basic = (b0 & 0x3f) === 0 ? 2 : (b0 & 0x3f) === 1 ? 3 : 1;
    const msgHeader = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (this.avail < basic + msgHeader) return false;
    const h = this.peek(basic + msgHeader);
    const csid = basic === 1 ? b0 & 0x3f : basic === 2 ? 64 + h[1]! : 64 + h[1]! + h[2]! * 256;
    let cs = this.streams.get(csid);
    if (cs === undefined) {
      if (fmt !== 0) throw fail('RTMP_PROTOCOL', `chunk type ${fmt} on new chunk stream ${csid}`);
      if (this.streams.size >= this.limits.maxChunkStreams) throw fail('RTMP_LIMIT', 'chunk stream count', this.streams.size + 1, this.limits.maxChunkStreams);
      cs = { timestamp: 0, delta: 0, length: 0, typeId: 0, streamId: 0, extended: false, parts: null, filled: 0 };
    }
    if (fmt <= 2) {
      let tsField = h.readUIntBE(basic, 3);
      const extended = tsField === 0xffffff;
      if (extended) {
        if (this.avail < basic + msgHeader + 4) return false;
        tsField = this.peek(basic + msgHeader + 4).readUInt32BE(basic + msgHeader);
      }
      if (fmt <= 1) {
        const length = h.readUIntBE(basic + 3, 3);
        if (length > this.limits.maxMessageBytes) throw fail('RTMP_LIMIT', 'message length', length, this.limits.maxMessageBytes);
        cs.length = length;
        cs.typeId = h[basic + 6]!;
        if (fmt === 0) cs.streamId = h.readUInt32LE(basic + 7);
      }
      this.streams.set(csid, cs);
      this.consume(basic + msgHeader + (extended ? 4 : 0));
      cs.extended = extended;
      // A new header mid-message starts a new message; the partial one is dropped.
      cs.parts = null;
      cs.filled = 0;
      cs.delta = tsField;
      cs.timestamp = fmt === 0 ? tsField : (cs.timestamp + tsField) >>> 0;
    } else {
      if (cs.extended) {
        if (this.avail < basic + 4) return false;
        this.consume(basic + 4);
      } else this.consume(basic);
      if (cs.parts === null) cs.timestamp = (cs.timestamp + cs.delta) >>> 0;
    }
    const size = Math.min(this.chunkSize, cs.length - cs.filled);
    if (cs.length === 0) {
      this.emit(csid, cs, Buffer.alloc(0));
      return true;
    }
    const first = this.bufs[0];
    if (cs.filled === 0 && size === cs.length && first !== undefined && first.length - this.head >= size) {
      const payload = first.subarray(this.head, this.head + size); // zero-copy: whole message in one piece
      this.consume(size);
      this.emit(csid, cs, payload);
      return true;
    }
    cs.parts ??= []; // memory grows with bytes received, never with the declared length
    this.cur = cs;
    this.curId = csid;
    this.curRemaining = size;
    return true;
  }

  private readPayload(): boolean {
    const cs = this.cur!;
    while (this.curRemaining > 0) {
      if (this.avail === 0) return false;
      const first = this.bufs[0]!;
      const take = Math.min(first.length - this.head, this.curRemaining);
      cs.parts!.push(first.subarray(this.head, this.head + take));
      cs.filled += take;
      this.curRemaining -= take;
      this.consume(take);
    }
    this.cur = null;
    if (cs.filled === cs.length) {
      const parts = cs.parts!;
      const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts, cs.length);
      cs.parts = null;
      cs.filled = 0;
      this.emit(this.curId, cs, payload);
    }
    return true;
  }

  private emit(csid: number, cs: ChunkStreamState, payload: Buffer): void {
    this.onMessage({ csid, typeId: cs.typeId, streamId: cs.streamId, timestamp: cs.timestamp, payload });
  }
}

/**
 * The messages of an Aggregate message (§7.1.6): FLV tags (11-byte header, body, 4-byte back
 * pointer) whose timestamps are offsets from the first, rebased on the aggregate's own. A
 * truncated tag ends the list.
 */
export function splitAggregate(m: RtmpMessage): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const p = m.payload;
  let first = -1;
  for (let off = 0; off + 11 <= p.length;) {
    const size = p.readUIntBE(off + 1, 3);
    if (off + 11 + size > p.length) break;
    const ts = (p.readUIntBE(off + 4, 3) | (p[off + 7]! << 24)) >>> 0;
    if (first < 0) first = ts;
    out.push({ csid: m.csid, typeId: p[off]! & 0x1f, streamId: m.streamId, timestamp: (m.timestamp + ts - first) >>> 0, payload: p.subarray(off + 11, off + 11 + size) });
    off += 11 + size + 4;
  }
  return out;
}
