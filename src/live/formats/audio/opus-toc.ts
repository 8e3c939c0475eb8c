/**
 * Opus packet duration from its TOC byte (RFC 6716 §3.1): `config` (bits 7–3) selects the mode and
 * frame size — SILK-only 10/20/40/60 ms (configs 0–11), Hybrid 10/20 ms (12–15), CELT-only
 * 2.5/5/10/20 ms (16–31) — and the frame-count code `c` (bits 1–0) says 1, 2, 2 or, for code 3,
 * the count in the low 6 bits of the next byte (§3.2.5). The audio bridge times Opus packets with
 * it (the raw packets carry no timestamps), and the CMAF segmenter gives each sample its duration.
 */

/** Frame size in 48 kHz samples of each TOC `config` (RFC 6716 §3.1 Table 2). */
export const OPUS_FRAME_SAMPLES: readonly number[] = Array.from({ length: 32 }, (_, config) => {
  if (config < 12) return [480, 960, 1920, 2880][config % 4]!;
  if (config < 16) return [480, 960][config % 2]!;
  return [120, 240, 480, 960][config % 4]!;
});

/** Samples (at 48 kHz) in one Opus packet; 0 for a malformed packet (RFC 6716 §3.4 R1, R5). */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length < 1) return 0;
  const toc = packet[0]!;
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code !== 3) frames = 2;
  else {
    if (packet.length < 2) return 0;
    frames = packet[1]! & 0x3f;
  }
  const samples = frames * OPUS_FRAME_SAMPLES[toc >> 3]!;
  return frames === 0 || samples > 5760 ? 0 : samples; // R5: at most 120 ms per packet
}

/** Channels and pre-skip of an OpusHead (RFC 7845 §5.1), or null when it is not one. */
export function opusHeadInfo(head: Buffer): { channels: number; preSkip: number } | null {
  if (head.length < 19 || head.toString('latin1', 0, 8) !== 'OpusHead') return null;
  return { channels: head[9]!, preSkip: head.readUInt16LE(10) };
}
