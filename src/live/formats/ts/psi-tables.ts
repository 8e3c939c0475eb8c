/**
 * Program association and program map tables (ISO/IEC 13818-1 §2.4.4.3 PAT, §2.4.4.8 PMT) and the
 * elementary stream types Strom carries (stream_type assignments of §2.4.4.9):
 * 0x1B H.264 (§2.14), 0x24 H.265 (§2.17), 0x0F AAC in ADTS (ISO/IEC 13818-7 / 14496-3 ADTS) and
 * Opus as 0x06 PES private data with a registration_descriptor 'Opus' (§2.6.8) plus the DVB
 * extension_descriptor (tag 0x7F) with extension tag 0x80 carrying channel_config_code, as the
 * "Opus in MPEG-TS" mapping (ETSI TS 102 366 is AC-3; Opus has its own mapping) and ffmpeg do it.
 */
import { crc32, withCrc } from './psi-section.js';

export const TABLE_ID = { PAT: 0x00, PMT: 0x02 } as const;
export const STREAM_TYPE = { AAC_ADTS: 0x0f, H264: 0x1b, H265: 0x24, PRIVATE_PES: 0x06 } as const;
const DESC_REGISTRATION = 0x05;
const DESC_EXTENSION = 0x7f;
const EXT_OPUS = 0x80;

/** Codecs that the TS demuxer and muxer carry. */
export type TsCodec = 'avc' | 'hevc' | 'aac' | 'opus';

/** One program of the PAT. */
export interface PatEntry {
  programNumber: number;
  pmtPid: number;
}

/** One elementary stream of a PMT. */
export interface PmtStream {
  streamType: number;
  pid: number;
  /** The codec Strom maps it to, or null (carried by no Strom output; its packets are counted). */
  codec: TsCodec | null;
  /** Opus channel_config_code from the extension descriptor (0x80 tag), when present. */
  opusChannelConfig?: number;
}

export interface Pmt {
  programNumber: number;
  version: number;
  pcrPid: number;
  streams: PmtStream[];
}

/** Why a section was refused. */
export type SectionError = 'crc' | 'syntax';

/** Common long-form section checks (§2.4.4.1): syntax bit, length, CRC, current_next_indicator. */
function checkSection(s: Buffer, tableId: number): SectionError | 'skip' | null {
  if (s.length < 12 || s[0] !== tableId || (s[1]! & 0x80) === 0) return 'syntax';
  if (crc32(s) !== 0) return 'crc';
  if ((s[5]! & 1) === 0) return 'skip'; // current_next_indicator 0: not yet applicable
  return null;
}

/** Programs of a PAT section, or why it was refused ('skip': a table not yet in force). */
export function parsePat(s: Buffer): PatEntry[] | SectionError | 'skip' {
  const bad = checkSection(s, TABLE_ID.PAT);
  if (bad !== null) return bad;
  const out: PatEntry[] = [];
  for (let o = 8; o + 4 <= s.length - 4; o += 4) {
    const programNumber = s.readUInt16BE(o);
    if (programNumber !== 0) out.push({ programNumber, pmtPid: s.readUInt16BE(o + 2) & 0x1fff }); // 0: network PID
  }
  return out;
}

/** A PMT section, or why it was refused. */
export function parsePmt(s: Buffer): Pmt | SectionError | 'skip' {
  const bad = checkSection(s, TABLE_ID.PMT);
  if (bad !== null) return bad;
  const end = s.length - 4;
  const programInfoLength = s.readUInt16BE(10) & 0x0fff;
  let o = 12 + programInfoLength;
  if (o > end) return 'syntax';
  const programRegistration = registration(s.subarray(12, o));
  const streams: PmtStream[] = [];
  while (o + 5 <= end) {
    const streamType = s[o]!;
    const pid = s.readUInt16BE(o + 1) & 0x1fff;
    const infoLength = s.readUInt16BE(o + 3) & 0x0fff;
    const info = s.subarray(o + 5, o + 5 + infoLength);
    if (o + 5 + infoLength > end) return 'syntax';
    streams.push(classify(streamType, pid, info, programRegistration));
    o += 5 + infoLength;
  }
  return { programNumber: s.readUInt16BE(3), version: (s[5]! >> 1) & 0x1f, pcrPid: s.readUInt16BE(8) & 0x1fff, streams };
}

/** Each descriptor (§2.6: tag, length, data) of a descriptor loop. */
function* descriptors(loop: Buffer): Generator<[number, Buffer]> {
  for (let o = 0; o + 2 <= loop.length;) {
    const len = loop[o + 1]!;
    if (o + 2 + len > loop.length) return;
    yield [loop[o]!, loop.subarray(o + 2, o + 2 + len)];
    o += 2 + len;
  }
}

/** format_identifier of a registration_descriptor in the loop (§2.6.8), or null. */
function registration(loop: Buffer): string | null {
  for (const [tag, data] of descriptors(loop)) if (tag === DESC_REGISTRATION && data.length >= 4) return data.toString('latin1', 0, 4);
  return null;
}

function classify(streamType: number, pid: number, info: Buffer, programRegistration: string | null): PmtStream {
  switch (streamType) {
    case STREAM_TYPE.H264: return { streamType, pid, codec: 'avc' };
    case STREAM_TYPE.H265: return { streamType, pid, codec: 'hevc' };
    case STREAM_TYPE.AAC_ADTS: return { streamType, pid, codec: 'aac' };
  }
  if (streamType === STREAM_TYPE.PRIVATE_PES && (registration(info) ?? programRegistration) === 'Opus') {
    const s: PmtStream = { streamType, pid, codec: 'opus' };
    for (const [tag, data] of descriptors(info)) if (tag === DESC_EXTENSION && data[0] === EXT_OPUS && data.length >= 2) s.opusChannelConfig = data[1]!;
    return s;
  }
  return { streamType, pid, codec: null };
}

/** A PAT section with one program (§2.4.4.3). */
export function buildPat(transportStreamId: number, programNumber: number, pmtPid: number, version: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = TABLE_ID.PAT;
  b.writeUInt16BE(0xb000 | (b.length + 4 - 3), 1); // syntax 1, '0', reserved '11', section_length
  b.writeUInt16BE(transportStreamId, 3);
  b[5] = 0xc1 | ((version & 0x1f) << 1); // reserved '11', version, current_next 1
  b[6] = 0; // section_number
  b[7] = 0; // last_section_number
  b.writeUInt16BE(programNumber, 8);
  b.writeUInt16BE(0xe000 | pmtPid, 10);
  return withCrc(b);
}

/** One stream of a PMT the muxer writes. */
export interface PmtEntry {
  pid: number;
  codec: TsCodec;
  /** Opus channel_config_code (1…8 channels, mapping family 0/1 in Vorbis order). */
  opusChannelConfig?: number;
}

/** A PMT section (§2.4.4.8) for the given streams. */
export function buildPmt(programNumber: number, pcrPid: number, entries: readonly PmtEntry[], version: number): Buffer {
  const loops = entries.map((e) => {
    const type = e.codec === 'avc' ? STREAM_TYPE.H264 : e.codec === 'hevc' ? STREAM_TYPE.H265 : e.codec === 'aac' ? STREAM_TYPE.AAC_ADTS : STREAM_TYPE.PRIVATE_PES;
    const info = e.codec === 'opus'
      ? Buffer.from([DESC_REGISTRATION, 4, 0x4f, 0x70, 0x75, 0x73, DESC_EXTENSION, 2, EXT_OPUS, e.opusChannelConfig ?? 2])
      : Buffer.alloc(0);
    const head = Buffer.alloc(5);
    head[0] = type;
    head.writeUInt16BE(0xe000 | e.pid, 1);
    head.writeUInt16BE(0xf000 | info.length, 3);
    return Buffer.concat([head, info]);
  });
  const fixed = Buffer.alloc(12);
  const length = 9 + loops.reduce((n, l) => n + l.length, 0) + 4;
  fixed[0] = TABLE_ID.PMT;
  fixed.writeUInt16BE(0xb000 | length, 1);
  fixed.writeUInt16BE(programNumber, 3);
  fixed[5] = 0xc1 | ((version & 0x1f) << 1);
  fixed[6] = 0;
  fixed[7] = 0;
  fixed.writeUInt16BE(0xe000 | pcrPid, 8);
  fixed.writeUInt16BE(0xf000, 10); // program_info_length 0
  return withCrc(Buffer.concat([fixed, ...loops]));
}
