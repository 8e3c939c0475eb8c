/**
 * Writes PES packets and PSI sections as transport packets (ISO/IEC 13818-1 §2.4.3.2) straight into
 * output chunks of `packetsPerChunk` × 188 bytes — 7 by default, the 1316-byte payload SRT and UDP
 * senders use — copying each payload byte once, from the unit into the packet. Per-PID
 * continuity_counter advances on every packet with payload (§2.4.3.3); a PES's last packet is
 * filled up with adaptation-field stuffing (§2.4.3.5 stuffing_byte), PCR and random_access_indicator
 * ride in the first packet's adaptation field.
 */
import { TS_PACKET_SIZE, writeHeader, writePcr } from './packet.js';
import { sectionPacket } from './psi-section.js';

export class Packetizer {
  private readonly cc = new Map<number, number>();
  private chunk: Buffer | null = null;
  private used = 0;
  private readonly ready: Buffer[] = [];
  /** Packets written so far. */
  packets = 0;

  constructor(private readonly packetsPerChunk: number) {}

  /** The chunks written since the last call: full ones and the last, partly filled one. */
  take(): Buffer[] {
    if (this.chunk !== null && this.used > 0) this.ready.push(this.chunk.subarray(0, this.used * TS_PACKET_SIZE));
    this.chunk = null;
    this.used = 0;
    return this.ready.splice(0);
  }

  /** One PSI section in one packet. */
  section(pid: number, section: Buffer): void {
    const [buf, off] = this.slot();
    sectionPacket(pid, section, this.nextCc(pid)).copy(buf, off);
  }

  /** A packet with only an adaptation field carrying a PCR (the counter does not advance). */
  pcrOnly(pid: number, pcrBase: number): void {
    const [buf, off] = this.slot();
    writeHeader(buf, off, pid, false, 2, this.cc.get(pid) ?? 15);
    buf[off + 4] = 183;
    buf[off + 5] = 0x10;
    writePcr(buf, off + 6, pcrBase);
    buf.fill(0xff, off + 12, off + TS_PACKET_SIZE);
  }

  /** A PES packet made of `parts` (header first); the first packet carries the PCR / random access flag. */
  pes(pid: number, parts: readonly Buffer[], pcrBase: number | null, randomAccess: boolean): void {
    let remaining = 0;
    for (const p of parts) remaining += p.length;
    let part = 0;
    let partOff = 0;
    let first = true;
    while (remaining > 0) {
      const [buf, off] = this.slot();
      const flags = first ? (randomAccess ? 0x40 : 0) | (pcrBase !== null ? 0x10 : 0) : 0;
      // Adaptation field content length (after its length byte); -1: no adaptation field.
      let afLength = flags === 0 ? -1 : pcrBase !== null && first ? 7 : 1;
      const room = TS_PACKET_SIZE - 4 - (afLength + 1);
      if (remaining < room) afLength = TS_PACKET_SIZE - 4 - remaining - 1; // stuff the last packet
      writeHeader(buf, off, pid, first, afLength >= 0 ? 3 : 1, this.nextCc(pid));
      let o = off + 4;
      if (afLength >= 0) {
        buf[o] = afLength;
        if (afLength > 0) {
          buf[o + 1] = flags;
          let f = o + 2;
          if (flags & 0x10) {
            writePcr(buf, f, pcrBase!);
            f += 6;
          }
          buf.fill(0xff, f, o + 1 + afLength);
        }
        o += 1 + afLength;
      }
      let n = off + TS_PACKET_SIZE - o;
      remaining -= n;
      while (n > 0) {
        const p = parts[part]!;
        const take = Math.min(n, p.length - partOff);
        p.copy(buf, o, partOff, partOff + take);
        o += take;
        n -= take;
        partOff += take;
        if (partOff === p.length) {
          part++;
          partOff = 0;
        }
      }
      first = false;
    }
  }

  private nextCc(pid: number): number {
    const c = ((this.cc.get(pid) ?? 15) + 1) & 0x0f;
    this.cc.set(pid, c);
    return c;
  }

  /** Room for one more packet: [chunk, offset]. */
  private slot(): [Buffer, number] {
    if (this.chunk === null) {
      this.chunk = Buffer.allocUnsafe(this.packetsPerChunk * TS_PACKET_SIZE);
      this.used = 0;
    }
    const at: [Buffer, number] = [this.chunk, this.used * TS_PACKET_SIZE];
    this.packets++;
    if (++this.used === this.packetsPerChunk) {
      this.ready.push(this.chunk);
      this.chunk = null;
    }
    return at;
  }
}
