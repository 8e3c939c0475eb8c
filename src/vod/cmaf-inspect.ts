/**
 * Read the RFC 6381 codec string out of a CMAF init segment, so the HLS CODECS attribute and the
 * MPD @codecs name the profile and level x264 actually chose (a wrong level makes MSE refuse the
 * source buffer or a player drop the variant). A walk over the box tree down to the sample entry;
 * no full ISO BMFF parser is needed for two fields.
 */
import { findBox } from '../media/iso-bmff/find-box.js';

/** Re-exported: the box walker lives with the other ISO BMFF primitives. */
export { findBox };

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** `avc1.PPCCLL` from the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) of a video init segment. */
export function avcCodecString(init: Buffer): string | null {
  for (const entry of ['avc1', 'avc3']) {
    const avcC = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', entry, 'avcC']);
    if (avcC && avcC.length >= 4 && avcC[0] === 1) return `${entry}.${hex2(avcC[1]!)}${hex2(avcC[2]!)}${hex2(avcC[3]!)}`;
  }
  return null;
}

/**
 * `mp4a.40.N` from the AudioSpecificConfig inside `esds` (ISO/IEC 14496-1 descriptors); the
 * audio object type is the top five bits of the DecoderSpecificInfo (tag 0x05).
 */
export function aacCodecString(init: Buffer): string | null {
  const esds = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'mp4a', 'esds']);
  if (!esds) return null;
  for (let i = 4; i < esds.length - 2; i++) {
    if (esds[i] !== 0x05) continue;
    // Descriptor length: 1–4 bytes of 7 bits with a continuation bit.
    let j = i + 1;
    while (j < esds.length && (esds[j]! & 0x80) !== 0) j++;
    const aot = (esds[j + 1] ?? 0) >> 3;
    if (aot > 0 && aot < 31) return `mp4a.40.${aot}`;
  }
  return null;
}

/** The codec string of an init segment, video or audio. */
export function codecString(init: Buffer): string | null {
  return avcCodecString(init) ?? aacCodecString(init);
}

/**
 * Decode time in seconds of the first sample of a media segment: `tfdt` baseMediaDecodeTime
 * (ISO/IEC 14496-12 §8.8.12) over the `mdhd` timescale of its init segment (§8.4.2). Players
 * (hls.js's initPTS) take the first segment's as the start of the timeline; null when absent.
 */
export function firstDecodeTimeS(init: Buffer, segment: Buffer): number | null {
  const mdhd = findBox(init, ['moov', 'trak', 'mdia', 'mdhd']);
  const tfdt = findBox(segment, ['moof', 'traf', 'tfdt']);
  if (!mdhd || !tfdt || mdhd.length < 24 || tfdt.length < 8) return null;
  const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
  const decode = tfdt[0] === 1 && tfdt.length >= 12 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
  return timescale > 0 ? decode / timescale : null;
}
