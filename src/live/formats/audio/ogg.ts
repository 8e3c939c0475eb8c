/**
 * Ogg pages (RFC 3533 §6) — the container ffmpeg reads and writes Opus in over a pipe (RFC 7845).
 * The audio bridge writes one Opus packet per page to ffmpeg's stdin (so ffmpeg can decode each
 * 20 ms packet as it arrives: a page is the demuxer's unit of delivery) and reads the pages ffmpeg
 * writes back (`-page_duration 20000` keeps those at one packet too). The CRC is RFC 3533's
 * CRC-32 with generator 0x04c11db7, initial 0, no reflection, no final XOR, computed over the page
 * with the checksum field zeroed.
 */

/** header_type flags (RFC 3533 §6). */
export const OGG_CONTINUED = 0x01;
/** First page of a logical bitstream. */
export const OGG_BOS = 0x02;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** RFC 3533 page checksum of `buf` (the CRC field must be zero in `buf`). */
export function oggCrc(buf: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < buf.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc;
}

/** One Ogg page, with its packets already reassembled by `OggReader`. */
export interface OggPage {
  headerType: number;
  granule: bigint;
  serial: number;
  seq: number;
  /** Packets that END on this page (a packet continued from earlier pages is joined here). */
  packets: Buffer[];
}

/** Largest packet one page can carry (255 lacing values of 255 bytes, the last one < 255). */
export const OGG_MAX_PACKET = 255 * 255 - 1;

/** One page holding whole `packets` (lacing per RFC 3533 §5); throws when they need > 255 segments. */
export function oggPage(p: { headerType: number; granule: bigint; serial: number; seq: number; packets: readonly Buffer[] }): Buffer {
  const lacing: number[] = [];
  for (const pkt of p.packets) {
    for (let n = pkt.length; ; n -= 255) {
      lacing.push(Math.min(n, 255));
      if (n < 255) break;
    }
  }
  if (lacing.length > 255) throw new RangeError(`Ogg page needs ${lacing.length} lacing values (max 255)`);
  const head = Buffer.alloc(27 + lacing.length);
  head.write('OggS', 0, 'latin1');
  head[4] = 0; // stream_structure_version
  head[5] = p.headerType;
  head.writeBigInt64LE(p.granule, 6);
  head.writeUInt32LE(p.serial >>> 0, 14);
  head.writeUInt32LE(p.seq >>> 0, 18);
  head[26] = lacing.length;
  for (let i = 0; i < lacing.length; i++) head[27 + i] = lacing[i]!;
  const page = Buffer.concat([head, ...p.packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/** Incremental Ogg reader: push bytes as they arrive, get complete pages with whole packets. */
export class OggReader {
  /** Pages whose CRC did not match (skipped, the reader resynchronises on the next capture pattern). */
  badPages = 0;
  private buf: Buffer = Buffer.alloc(0);
  private partial: Buffer[] = [];
  private partialBytes = 0;

  /** `maxPacket` bounds a packet being reassembled across pages (a longer one is dropped). */
  constructor(private readonly maxPacket = 1 << 20) {}

  /** Feed bytes; returns the pages completed by them. */
  push(chunk: Buffer): OggPage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const pages: OggPage[] = [];
    for (;;) {
      const start = this.buf.indexOf('OggS', 0, 'latin1');
      if (start < 0) {
        this.buf = this.buf.subarray(Math.max(0, this.buf.length - 3)); // keep a possible split "Ogg"
        return pages;
      }
      if (start > 0) this.buf = this.buf.subarray(start);
      if (this.buf.length < 27) return pages;
      const nseg = this.buf[26]!;
      if (this.buf.length < 27 + nseg) return pages;
      let bodyLen = 0;
      for (let i = 0; i < nseg; i++) bodyLen += this.buf[27 + i]!;
      const total = 27 + nseg + bodyLen;
      if (this.buf.length < total) return pages;
      const raw = Buffer.from(this.buf.subarray(0, total)); // a copy: the CRC check zeroes a field
      const crc = raw.readUInt32LE(22);
      raw.writeUInt32LE(0, 22);
      if (this.buf[4] !== 0 || oggCrc(raw) !== crc) {
        this.badPages++;
        this.buf = this.buf.subarray(4); // not a page: look for the next capture pattern
        continue;
      }
      this.buf = this.buf.subarray(total);
      pages.push(this.parse(raw, nseg));
    }
  }

  private parse(raw: Buffer, nseg: number): OggPage {
    const headerType = raw[5]!;
    if ((headerType & OGG_CONTINUED) === 0) this.dropPartial();
    const packets: Buffer[] = [];
    let off = 27 + nseg;
    let segStart = off;
    for (let i = 0; i < nseg; i++) {
      const len = raw[27 + i]!;
      off += len;
      if (len < 255) {
        this.append(raw.subarray(segStart, off));
        if (this.partialBytes <= this.maxPacket) packets.push(this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial));
        this.dropPartial();
        segStart = off;
      }
    }
    if (segStart < off) this.append(raw.subarray(segStart, off)); // continues on the next page
    return { headerType, granule: raw.readBigInt64LE(6), serial: raw.readUInt32LE(14), seq: raw.readUInt32LE(18), packets };
  }

  private append(b: Buffer): void {
    this.partialBytes += b.length;
    if (this.partialBytes <= this.maxPacket) this.partial.push(b);
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialBytes = 0;
  }
}
