/**
 * Transport packets out of a byte stream in any chunking — SRT/UDP datagrams of 7 × 188 bytes, TCP
 * reads, file slices — with sync acquisition and recovery (ISO/IEC 13818-1 §2.4.3.3 sync_byte 0x47).
 * While in sync every 188th byte must be 0x47; when one is not, the reader searches for a 0x47 that
 * is followed by two more at 188-byte steps before it trusts it again, so a 0x47 inside garbage or
 * payload does not fake a packet start. Aligned input is handed on as views, without copying; only
 * a packet split across chunks is copied (≤ 187 bytes held, plus ≤ 2 packets while confirming sync).
 */
import { SYNC_BYTE, TS_PACKET_SIZE } from './packet.js';

/** Packets confirming a sync candidate (§2.4.3.3 leaves the method to the decoder; three in a row is usual). */
const CONFIRM = 3;

export class PacketReader {
  private carry: Buffer = Buffer.alloc(0);
  private synced = false;
  /** Times sync was lost after it had been found. */
  resyncs = 0;
  /** Bytes discarded while searching for sync. */
  skippedBytes = 0;

  constructor(private readonly onPacket: (buf: Buffer, off: number) => void, private readonly onSyncLost: () => void = () => {}) {}

  /** Bytes held between calls (a split packet, or candidates waiting for confirmation). */
  get pendingBytes(): number {
    return this.carry.length;
  }

  /** Feed bytes; `onPacket` is called for every packet they complete. */
  push(chunk: Buffer): void {
    let data = chunk;
    if (this.carry.length > 0) {
      const need = TS_PACKET_SIZE - this.carry.length;
      if (this.synced && need > 0 && this.carry[0] === SYNC_BYTE && chunk.length >= need) {
        // Complete the split packet in a small buffer instead of copying the whole chunk.
        const p = Buffer.concat([this.carry, chunk.subarray(0, need)], TS_PACKET_SIZE);
        this.carry = Buffer.alloc(0);
        this.onPacket(p, 0);
        data = chunk.subarray(need);
      } else {
        data = Buffer.concat([this.carry, chunk]);
        this.carry = Buffer.alloc(0);
      }
    }
    this.scan(data, false);
  }

  /** End of input: a packet still held is accepted on its sync byte alone. */
  flush(): void {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    this.scan(rest, true);
    this.carry = Buffer.alloc(0);
  }

  private scan(b: Buffer, final: boolean): void {
    let off = 0;
    for (;;) {
      if (this.synced) {
        while (b.length - off >= TS_PACKET_SIZE && b[off] === SYNC_BYTE) {
          this.onPacket(b, off);
          off += TS_PACKET_SIZE;
        }
        if (b.length - off < TS_PACKET_SIZE) break;
        this.synced = false; // no sync byte where the next packet should start
        this.resyncs++;
        this.onSyncLost();
      }
      const { at, confirmed } = this.search(b, off, final);
      this.skippedBytes += at - off;
      off = at;
      if (!confirmed) break;
      this.synced = true;
    }
    this.carry = off < b.length ? Buffer.from(b.subarray(off)) : Buffer.alloc(0);
  }

  /**
   * The next sync byte at/after `from` confirmed by CONFIRM − 1 more at 188-byte steps. Unconfirmed:
   * `at` is where to keep bytes from for the next chunk (≤ (CONFIRM − 1) × 188 bytes before the end).
   */
  private search(b: Buffer, from: number, final: boolean): { at: number; confirmed: boolean } {
    for (let i = from; i < b.length; i++) {
      if (b[i] !== SYNC_BYTE) continue;
      let ok = true;
      for (let k = 1; k < CONFIRM && ok; k++) {
        const at = i + k * TS_PACKET_SIZE;
        if (at >= b.length) {
          if (!final) return { at: i, confirmed: false };
          return i + TS_PACKET_SIZE <= b.length ? { at: i, confirmed: true } : { at: b.length, confirmed: false };
        }
        ok = b[at] === SYNC_BYTE;
      }
      if (ok) return { at: i, confirmed: true };
    }
    return { at: b.length, confirmed: false };
  }
}
