/**
 * PSI sections on a PID (ISO/IEC 13818-1 §2.4.4): reassembly across transport packets with the
 * pointer_field, the CRC_32 every PAT/PMT section ends with (Annex A: polynomial 0x04C11DB7, no
 * reflection, initial value 0xFFFFFFFF — run over a whole section including its CRC it yields 0),
 * and one-packet framing for the small sections the muxer writes.
 */
import { TS_PACKET_SIZE, writeHeader } from './packet.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC_32 of Annex A over `buf[start…end)`. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

/** Largest section the demuxer assembles: private sections may be 4096 bytes (§2.4.4.10). */
export const MAX_SECTION_BYTES = 4096;

/**
 * Sections of one PID from transport packet payloads. A payload with payload_unit_start_indicator
 * begins with pointer_field: the bytes before it end the section in progress, a new section starts
 * after it, and several sections may follow one another until 0xFF stuffing (§2.4.4.2).
 */
export class SectionAssembler {
  private part: Buffer | null = null;
  /** Sections dropped: cut by a discontinuity, or a section_length above the limit. */
  dropped = 0;

  /** Bytes held for a section in progress. */
  get pendingBytes(): number {
    return this.part?.length ?? 0;
  }

  /** Feed one packet payload; `emit` receives each complete section (its own copy). */
  push(payload: Buffer, pusi: boolean, emit: (section: Buffer) => void): void {
    if (!pusi) {
      if (this.part !== null) this.take(payload, emit);
      return;
    }
    const pointer = payload[0];
    if (pointer === undefined || 1 + pointer > payload.length) {
      this.reset();
      return;
    }
    if (this.part !== null) {
      this.take(payload.subarray(1, 1 + pointer), emit);
      if (this.part !== null) this.reset(); // the previous section should have ended before the new one
    }
    this.part = Buffer.alloc(0);
    this.take(payload.subarray(1 + pointer), emit);
  }

  /** A continuity error: the section in progress lost bytes. */
  reset(): void {
    if (this.part !== null && this.part.length > 0) this.dropped++;
    this.part = null;
  }

  private take(data: Buffer, emit: (section: Buffer) => void): void {
    let buf = this.part!.length === 0 ? data : Buffer.concat([this.part!, data]);
    for (;;) {
      if (buf.length === 0 || buf[0] === 0xff) {
        this.part = null; // stuffing: nothing more in this payload
        return;
      }
      if (buf.length < 3) break;
      const total = 3 + (((buf[1]! & 0x0f) << 8) | buf[2]!);
      if (total > MAX_SECTION_BYTES) {
        this.dropped++;
        this.part = null;
        return;
      }
      if (buf.length < total) break;
      emit(Buffer.from(buf.subarray(0, total)));
      buf = buf.subarray(total);
    }
    this.part = Buffer.from(buf);
  }
}

/**
 * One transport packet carrying a whole section (pointer_field 0, then 0xFF stuffing, §2.4.4.2).
 * PAT and PMT sections of a single program are far below the 183 bytes this allows.
 */
export function sectionPacket(pid: number, section: Buffer, cc: number): Buffer {
  if (section.length > TS_PACKET_SIZE - 5) throw new RangeError(`PSI section of ${section.length} bytes does not fit one packet`);
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  writeHeader(p, 0, pid, true, 1, cc);
  p[4] = 0;
  section.copy(p, 5);
  return p;
}

/** Append CRC_32 to a section body whose section_length already counts those 4 bytes. */
export function withCrc(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 4);
  body.copy(out, 0);
  out.writeUInt32BE(crc32(body), body.length);
  return out;
}
