/**
 * HLS AES-128 (RFC 8216 §4.3.2.4 METHOD=AES-128): each whole media segment is encrypted with
 * AES-128-CBC and PKCS#7 padding, under the key of its rotation period and a fresh random IV that
 * the playlist states explicitly (`IV=0x…`), so no two segments share a key/IV pair. Init segments
 * stay clear: the playlist puts EXT-X-MAP before the first EXT-X-KEY, and §4.3.2.5 requires an IV
 * only for a Media Initialization Section that an AES-128 key applies to.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { aesKeyUri } from './content-keys.js';

/** The key a segment was encrypted with: rotation period and IV (hex, no 0x). */
export interface SegmentKey {
  index: number;
  iv: string;
}

/** Index of the key that encrypts segment `seq` when keys rotate every `rotation` segments (0: one key). */
export function keyIndexOf(seq: number, rotation: number): number {
  return rotation > 0 ? Math.floor(seq / rotation) : 0;
}

/** Encrypt a whole segment (AES-128-CBC, PKCS#7). */
export function encryptSegment(data: Buffer, key: Buffer, iv: Buffer): Buffer {
  const c = createCipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Decrypt a whole segment (what a player does with the key and the playlist's IV). */
export function decryptSegment(data: Buffer, key: Buffer, iv: Buffer): Buffer {
  const d = createDecipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** A fresh random IV. */
export function newIv(): Buffer {
  return randomBytes(16);
}

/** The EXT-X-KEY line (§4.3.2.4) in front of a segment encrypted with `k`. */
export function aesKeyLine(k: SegmentKey): string {
  return `#EXT-X-KEY:METHOD=AES-128,URI="${aesKeyUri(k.index)}",IV=0x${k.iv}`;
}
