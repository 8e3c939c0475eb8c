/**
 * One track of a `cenc` video: its protected init segment (cbcs-init.ts), the encryption of each
 * of its media segments (cbcs-fragment.ts), and how the manifests announce it — the HLS EXT-X-KEY
 * hls.js's EME path takes for W3C ClearKey (METHOD=SAMPLE-AES, KEYFORMAT="org.w3.clearkey", the KID
 * in a data: URI and KEYID; RFC 8216 §4.3.2.4) and the KID the MPD's ContentProtection names.
 */
import { findBox } from '../../media/iso-bmff/find-box.js';
import { encryptFragments } from './cbcs-fragment.js';
import { patternOf, protectInit } from './cbcs-init.js';

/** What the MPD needs to describe a cbcs video (dash-manifest.ts). */
export interface CencInfo {
  kid: Buffer;
}

/** The EXT-X-KEY line of a cbcs playlist for ClearKey, before EXT-X-MAP (it applies to the init too). */
export function clearKeyPlaylistKey(kid: Buffer): string {
  return `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,${kid.toString('base64')}",KEYID=0x${kid.toString('hex')},KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"`;
}

/** The NAL length field size of an AVC init segment (avcC lengthSizeMinusOne + 1, ISO/IEC 14496-15 §5.3.3.1). */
export function nalLengthSize(init: Buffer): number {
  const avcC = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'avc1', 'avcC']) ?? findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'avc3', 'avcC']);
  if (!avcC || avcC.length < 5) throw new RangeError('no avcC in the video init segment');
  return (avcC[4]! & 0x3) + 1;
}

/** A track's protected init and its segment encryptor. */
export function cbcsTrack(init: Buffer, kind: 'video' | 'audio', c: { key: Buffer; kid: Buffer; iv: Buffer }): { init: Buffer; segment(data: Buffer): Buffer } {
  const lengthSize = kind === 'video' ? nalLengthSize(init) : 0;
  const p = patternOf(kind);
  return {
    init: protectInit(init, kind, c.kid, c.iv),
    segment: (data) => encryptFragments(data, { kind, key: c.key, iv: c.iv, crypt: p.crypt, skip: p.skip, lengthSize }),
  };
}
