/**
 * MPEG-2 transport stream packets (ISO/IEC 13818-1 §2.4.3.2 transport_packet, §2.4.3.4
 * adaptation_field). Strom reads and writes TS itself, like FLV and CMAF, instead of piping through
 * ffmpeg: ingest (SRT, pulled RTSP/TS sources) and playback need control of timing (PCR, PES
 * boundaries, when a packet leaves) and zero-copy on the hot path — a packet is a 188-byte view
 * into the datagram it arrived in, and a PES payload is copied once, when it is complete.
 */

/** Every transport packet is 188 bytes (§2.4.3.2). */
export const TS_PACKET_SIZE = 188;
/** sync_byte (§2.4.3.3). */
export const SYNC_BYTE = 0x47;
/** Packets per SRT/UDP datagram: 7 × 188 = 1316 bytes fit a 1500-byte MTU with IP/UDP/SRT headers. */
export const PACKETS_PER_DATAGRAM = 7;

/** Reserved PIDs (§2.4.3.3 Table 2-3). */
export const PID = { PAT: 0x0000, NULL: 0x1fff } as const;

/** Program clock reference: 33-bit base at 90 kHz and 9-bit extension at 27 MHz (§2.4.3.5). */
export interface Pcr {
  base: number;
  ext: number;
}

/** The header fields of one transport packet that the demuxer acts on. */
export interface TsPacket {
  pid: number;
  /** payload_unit_start_indicator: a PES packet or PSI section starts in this payload. */
  pusi: boolean;
  /** transport_error_indicator: the packet is known to be damaged (set by a demodulator / gateway). */
  error: boolean;
  /** transport_scrambling_control ≠ 0: payload is scrambled. */
  scrambled: boolean;
  /** continuity_counter (4 bits). */
  cc: number;
  /** adaptation_field_control bit 0: the packet carries payload (only then does cc advance). */
  hasPayload: boolean;
  /** discontinuity_indicator: cc and/or the time base may be discontinuous from here. */
  discontinuity: boolean;
  /** random_access_indicator: the next PES starting on this PID begins a random access point. */
  randomAccess: boolean;
  pcr: Pcr | null;
  /** Offset of the payload inside the packet (4 + adaptation field). */
  payloadOffset: number;
}

/**
 * Parse the 188 bytes at `buf[off…off+188)`; null when the header is inconsistent (no sync byte,
 * reserved adaptation_field_control '00', adaptation field longer than the packet).
 */
export function parsePacket(buf: Buffer, off: number): TsPacket | null {
  if (buf[off] !== SYNC_BYTE) return null;
  const b1 = buf[off + 1]!;
  const b3 = buf[off + 3]!;
  const afc = (b3 >> 4) & 3;
  if (afc === 0) return null; // reserved (§2.4.3.3): decoders discard the packet
  const p: TsPacket = {
    pid: ((b1 & 0x1f) << 8) | buf[off + 2]!,
    pusi: (b1 & 0x40) !== 0,
    error: (b1 & 0x80) !== 0,
    scrambled: (b3 & 0xc0) !== 0,
    cc: b3 & 0x0f,
    hasPayload: (afc & 1) !== 0,
    discontinuity: false,
    randomAccess: false,
    pcr: null,
    payloadOffset: 4,
  };
  if (afc & 2) {
    const len = buf[off + 4]!;
    // §2.4.3.5: 0…182 with payload, exactly 183 without.
    if (p.hasPayload ? len > 182 : len !== 183) return null;
    p.payloadOffset = 5 + len;
    if (len > 0) {
      const flags = buf[off + 5]!;
      p.discontinuity = (flags & 0x80) !== 0;
      p.randomAccess = (flags & 0x40) !== 0;
      if (flags & 0x10 && len >= 7) p.pcr = readPcr(buf, off + 6);
    }
  }
  return p;
}

/** program_clock_reference_base (33 bits) and _extension (9 bits) at `off` (§2.4.3.5). */
export function readPcr(buf: Buffer, off: number): Pcr {
  const base = buf[off]! * 2 ** 25 + ((buf[off + 1]! << 17) | (buf[off + 2]! << 9) | (buf[off + 3]! << 1) | (buf[off + 4]! >> 7));
  const ext = ((buf[off + 4]! & 1) << 8) | buf[off + 5]!;
  return { base, ext };
}

/** Write a 6-byte PCR field (base at 90 kHz, extension 0…299 at 27 MHz) at `off`. */
export function writePcr(buf: Buffer, off: number, base: number, ext = 0): void {
  const b = base % 2 ** 33;
  buf[off] = Math.floor(b / 2 ** 25) & 0xff;
  const low = b % 2 ** 25; // 25 bits: fits a 32-bit int
  buf[off + 1] = (low >> 17) & 0xff;
  buf[off + 2] = (low >> 9) & 0xff;
  buf[off + 3] = (low >> 1) & 0xff;
  buf[off + 4] = ((low & 1) << 7) | 0x7e | ((ext >> 8) & 1); // 6 reserved bits set
  buf[off + 5] = ext & 0xff;
}

/** Write the 4-byte packet header (§2.4.3.2) at `off`. `afc`: 1 payload, 2 adaptation only, 3 both. */
export function writeHeader(buf: Buffer, off: number, pid: number, pusi: boolean, afc: 1 | 2 | 3, cc: number): void {
  buf[off] = SYNC_BYTE;
  buf[off + 1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
  buf[off + 2] = pid & 0xff;
  buf[off + 3] = (afc << 4) | (cc & 0x0f);
}

/**
 * continuity_counter check of a packet against the last one with payload on its PID (§2.4.3.3):
 * the counter advances only on packets with payload; one repeat of the previous packet is a
 * duplicate ('dup', to be discarded); any other step is an error unless discontinuity_indicator is set.
 */
export function continuity(p: TsPacket, last: number, lastWasDup: boolean): 'ok' | 'dup' | 'error' {
  if (!p.hasPayload || last < 0 || p.discontinuity) return 'ok';
  if (p.cc === last && !lastWasDup) return 'dup';
  return p.cc === ((last + 1) & 0x0f) ? 'ok' : 'error';
}
