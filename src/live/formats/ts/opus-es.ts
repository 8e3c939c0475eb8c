/**
 * Opus in TS ("Opus in MPEG-TS" mapping: stream_type 0x06, registration_descriptor 'Opus', DVB
 * extension_descriptor 0x7F/0x80 channel_config_code). Each Opus packet in a PES is preceded by an
 * opus_control_header: 11 bits 0x3FF (the bytes 0x7F 0xE0…), start_trim_flag, end_trim_flag,
 * control_extension_flag, 2 reserved bits, au_size as a run of 0xFF bytes plus a final byte, then
 * the optional trims (13 bits each in 16) and extension. The PES PTS belongs to the first packet;
 * each next one follows after the previous packet's duration (RFC 6716 §3.1 TOC).
 * Strom's units carry bare packets after an RFC 7845 OpusHead, built from channel_config_code:
 * 1–8 channels in mapping family 0 (≤ 2) or 1 (Vorbis order), 0 = two channels in family 255.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { opusPacketSamples } from '../audio/opus-toc.js';
import { opusConfigUnit, opusUnit } from '../flv/unit-builders.js';

/** Streams, coupled streams and channel mapping per channel_config_code (RFC 7845 §5.1.1.2 Vorbis order). */
const STREAMS = [1, 1, 1, 2, 2, 3, 4, 4, 5];
const COUPLED = [1, 0, 1, 1, 2, 2, 2, 3, 3];
const MAPPING = [[0], [0, 1], [0, 2, 1], [0, 1, 2, 3], [0, 4, 1, 2, 3], [0, 4, 1, 2, 3, 5], [0, 4, 1, 2, 3, 5, 6], [0, 6, 1, 2, 3, 4, 5, 7]];

/** An OpusHead (RFC 7845 §5.1) for a channel_config_code; null for codes the mapping leaves undefined. */
export function opusHeadForConfig(code: number, preSkip: number): Buffer | null {
  if (code > 8) return null;
  const channels = code === 0 ? 2 : code;
  const family = code === 0 ? 255 : channels > 2 ? 1 : 0;
  const b = Buffer.alloc(family === 0 ? 19 : 21 + channels);
  b.write('OpusHead', 0, 'latin1');
  b[8] = 1;
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(48000, 12);
  b[18] = family;
  if (family !== 0) {
    b[19] = STREAMS[code]!;
    b[20] = COUPLED[code]!;
    MAPPING[channels - 1]!.forEach((m, i) => (b[21 + i] = m));
  }
  return b;
}

/** channel_config_code for an OpusHead, or null when the TS mapping cannot express its layout. */
export function opusConfigForHead(head: Buffer): number | null {
  if (head.length < 19 || head.toString('latin1', 0, 8) !== 'OpusHead') return null;
  const channels = head[9]!;
  const family = head[18]!;
  if (family === 0 && channels >= 1 && channels <= 2) return channels;
  if ((family === 1 || family === 255) && channels >= 1 && channels <= 8 && head.length >= 21 + channels) {
    const code = family === 255 ? 0 : channels;
    if (family === 255 && channels !== 2) return null;
    const same = head[19] === STREAMS[code] && head[20] === COUPLED[code] && MAPPING[channels - 1]!.every((m, i) => head[21 + i] === m);
    return same ? code : null;
  }
  return null;
}

/** opus_control_header for a packet of `size` bytes, with start_trim when `startTrim` > 0. */
export function opusControlHeader(size: number, startTrim = 0): Buffer {
  const runs = Math.floor(size / 255);
  const h = Buffer.alloc(2 + runs + 1 + (startTrim > 0 ? 2 : 0), 0xff);
  h[0] = 0x7f;
  h[1] = 0xe0 | (startTrim > 0 ? 0x10 : 0);
  h[2 + runs] = size - runs * 255;
  if (startTrim > 0) h.writeUInt16BE(startTrim & 0x1fff, 3 + runs);
  return h;
}

/** One Opus packet of a PES. */
export interface OpusAu {
  packet: Buffer;
  /** start_trim in 48 kHz samples (0 when absent). */
  startTrim: number;
}

/** The packets of an Opus PES payload; stops at the first malformed control header (`bad` is then true). */
export function splitOpusPes(b: Buffer): { aus: OpusAu[]; bad: boolean } {
  const aus: OpusAu[] = [];
  let o = 0;
  while (o < b.length) {
    if (o + 2 > b.length || b[o] !== 0x7f || (b[o + 1]! & 0xe0) !== 0xe0) return { aus, bad: true };
    const flags = b[o + 1]!;
    o += 2;
    let size = 0;
    for (;;) {
      const v = b[o++];
      if (v === undefined) return { aus, bad: true };
      size += v;
      if (v !== 0xff) break;
    }
    let startTrim = 0;
    if (flags & 0x10) {
      if (o + 2 > b.length) return { aus, bad: true };
      startTrim = b.readUInt16BE(o) & 0x1fff;
      o += 2;
    }
    if (flags & 0x08) o += 2; // end_trim
    if (flags & 0x04) o += 1 + (b[o] ?? 0); // control extension
    if (size === 0 || o + size > b.length) return { aus, bad: true };
    aus.push({ packet: b.subarray(o, o + size), startTrim });
    o += size;
  }
  return { aus, bad: false };
}

export class OpusEs {
  private configured = false;
  private nextTicks: number | null = null;
  /** PES payloads whose control headers were malformed (packets before the fault are kept). */
  malformed = 0;

  constructor(private readonly channelConfig: number) {}

  /** One PES payload with its PTS in unwrapped ticks (null: continue after the previous packet). */
  push(payload: Buffer, ptsTicks: number | null, out: MediaUnit[]): void {
    const { aus, bad } = splitOpusPes(payload);
    if (bad) this.malformed++;
    let ticks = ptsTicks ?? this.nextTicks;
    if (ticks === null) return;
    for (const au of aus) {
      if (!this.configured) {
        const head = opusHeadForConfig(this.channelConfig, au.startTrim);
        if (head === null) return;
        out.push(opusConfigUnit(head, ticks / 90));
        this.configured = true;
      }
      out.push(opusUnit(au.packet, ticks / 90));
      ticks += opusPacketSamples(au.packet) * 1.875; // 90 000 / 48 000 ticks per sample
    }
    this.nextTicks = ticks;
  }
}
