/**
 * Content keys of protected videos (docs/VOD.md "Content protection"). No key is ever stored:
 * each is derived with HKDF-SHA256 (RFC 5869) from one server secret (the `content-keys` row of
 * `server_secrets`, shared by every node of a cluster through the database) with the video id as
 * salt and the key's purpose as info. So the packager, the key endpoint and the license endpoint of
 * any node compute the same bytes on demand, nothing per key sits next to the media (storage and
 * CDN hold only ciphertext), and deleting the secret makes every key unrecoverable at once.
 * Different purposes use different info strings, so an AES-128 segment key is never a cbcs key.
 */
import { hkdfSync } from 'node:crypto';

/** Name of the derivation secret in `server_secrets`. */
export const CONTENT_KEY_SECRET = 'content-keys';
/** Path of the ClearKey license endpoint below an asset (`/v/<id>/license`, `/s/<token>/<id>/license`). */
export const LICENSE_PATH = 'license';
/** Folder of the AES-128 key URLs below an asset (`/v/<id>/keys/<n>.key`). */
export const KEYS_DIR = 'keys';
/** Highest AES-128 key index the key endpoint answers (a 4 h video cut every segment stays far below). */
export const MAX_KEY_INDEX = 100_000;

/** A key URI relative to an asset's rendition folder (where its media playlist lives). */
export function aesKeyUri(index: number): string {
  return `../${KEYS_DIR}/${index}.key`;
}

/** Derives every content key of every video from one secret. */
export class ContentKeys {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 16) throw new RangeError('the content key secret must have at least 16 bytes');
  }

  private derive(videoId: string, info: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.secret, Buffer.from(videoId, 'utf8'), Buffer.from(`strom ${info}`, 'utf8'), 16));
  }

  /** The AES-128 key of the `index`-th rotation period of an `aes-128` video (RFC 8216 §4.3.2.4). */
  aesKey(videoId: string, index: number): Buffer {
    return this.derive(videoId, `aes-128 key ${index}`);
  }

  /** The cbcs content key, its key id (`tenc` default_KID) and the constant IV of a `cenc` video. */
  cenc(videoId: string): { key: Buffer; kid: Buffer; iv: Buffer } {
    return { key: this.derive(videoId, 'cbcs key'), kid: this.derive(videoId, 'cbcs kid'), iv: this.derive(videoId, 'cbcs iv') };
  }
}
