/**
 * SRT encryption (libsrt docs/features/encryption.md, haicrypt): the sender picks a Stream
 * Encrypting Key (SEK, 16/24/32 bytes) and a 16-byte salt; the Key Encrypting Key is
 * PBKDF2-HMAC-SHA1(passphrase, last 8 bytes of the salt, 2048 iterations, key length) and wraps
 * the SEK with AES Key Wrap (RFC 3394). Payloads are AES-CTR with the counter block
 * `(salt[0..14) XOR (0…0 ‖ seq at bytes 10..13)) ‖ block counter` (hcrypt_SetCtrIV). Both
 * directions of an HSv5 connection use the key the caller sent. All of it is Node's OpenSSL.
 */
import crypto from 'node:crypto';

/** Key material: the salt and the even and/or odd SEK. */
export interface KeyMaterial {
  salt: Buffer;
  keyLength: number;
  even?: Buffer;
  odd?: Buffer;
}

/** Key-flag values in data packets and KM messages. */
export const KEY = { EVEN: 1, ODD: 2, BOTH: 3 } as const;

const SIGN = 0x2029;
const CIPHER_AES_CTR = 2;
const SE_SRT = 2;
const WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** Passphrase lengths libsrt accepts (SRTO_PASSPHRASE). */
export const PASSPHRASE_MIN = 10;
export const PASSPHRASE_MAX = 79;

/** Why a KM message could not be used. */
export type KmFailure = 'malformed' | 'unsupported-cipher' | 'bad-secret';

function kek(passphrase: string, salt: Buffer, keyLength: number): Buffer {
  return crypto.pbkdf2Sync(passphrase, salt.subarray(salt.length - 8), 2048, keyLength, 'sha1');
}

/** Parse and unwrap a KMREQ/KMRSP body with a passphrase. */
export function openKeyMaterial(b: Buffer, passphrase: string): KeyMaterial | KmFailure {
  if (b.length < 16 || (b[0]! & 0x0f) !== 2 || b.readUInt16BE(1) !== SIGN) return 'malformed';
  const kk = b[3]! & 3;
  const cipher = b[8]!;
  const saltLength = b[14]! * 4;
  const keyLength = b[15]! * 4;
  if (cipher !== CIPHER_AES_CTR || b[9] !== 0) return 'unsupported-cipher';
  if (kk === 0 || saltLength < 8 || saltLength > 16 || ![16, 24, 32].includes(keyLength)) return 'malformed';
  const keys = kk === KEY.BOTH ? 2 : 1;
  const wrapped = b.subarray(16 + saltLength, 16 + saltLength + 8 + keys * keyLength);
  if (wrapped.length !== 8 + keys * keyLength) return 'malformed';
  const salt = Buffer.from(b.subarray(16, 16 + saltLength));
  let plain: Buffer;
  try {
    const d = crypto.createDecipheriv(`id-aes${keyLength * 8}-wrap`, kek(passphrase, salt, keyLength), WRAP_IV);
    plain = Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return 'bad-secret'; // RFC 3394 §2.2.3: the integrity check failed, the KEK is not the sender's
  }
  const km: KeyMaterial = { salt, keyLength };
  if (kk === KEY.BOTH) {
    km.even = plain.subarray(0, keyLength);
    km.odd = plain.subarray(keyLength);
  } else if (kk === KEY.EVEN) km.even = plain;
  else km.odd = plain;
  return km;
}

/** Fresh key material for a caller that sends encrypted: random salt and even key. */
export function newKeyMaterial(keyLength: 16 | 24 | 32): KeyMaterial {
  return { salt: crypto.randomBytes(16), keyLength, even: crypto.randomBytes(keyLength) };
}

/** Serialize key material as a KM message, wrapped with the passphrase. */
export function sealKeyMaterial(km: KeyMaterial, passphrase: string): Buffer {
  const kk = (km.even ? KEY.EVEN : 0) | (km.odd ? KEY.ODD : 0);
  const keys = Buffer.concat([km.even ?? Buffer.alloc(0), km.odd ?? Buffer.alloc(0)]);
  const c = crypto.createCipheriv(`id-aes${km.keyLength * 8}-wrap`, kek(passphrase, km.salt, km.keyLength), WRAP_IV);
  const wrapped = Buffer.concat([c.update(keys), c.final()]);
  const head = Buffer.alloc(16);
  head[0] = 0x12; // S=0, V=1, PT=2 (KM message)
  head.writeUInt16BE(SIGN, 1);
  head[3] = kk;
  head[8] = CIPHER_AES_CTR;
  head[10] = SE_SRT;
  head[14] = km.salt.length / 4;
  head[15] = km.keyLength / 4;
  return Buffer.concat([head, km.salt, wrapped]);
}

/** Encrypts or decrypts data packet payloads (CTR is its own inverse). */
export class PacketCipher {
  private readonly algorithm: string;
  private readonly iv = Buffer.alloc(16);

  constructor(private readonly km: KeyMaterial) {
    this.algorithm = `aes-${km.keyLength * 8}-ctr`;
  }

  /** Which key new packets go out with. */
  sendKey(): number {
    return this.km.even ? KEY.EVEN : KEY.ODD;
  }

  /** Apply the key stream for packet `seq` with key `keyFlags`; null when that key is unknown. */
  apply(seq: number, keyFlags: number, payload: Buffer): Buffer | null {
    const key = keyFlags === KEY.EVEN ? this.km.even : keyFlags === KEY.ODD ? this.km.odd : undefined;
    if (key === undefined) return null;
    const iv = this.iv;
    iv.fill(0);
    iv.writeUInt32BE(seq >>> 0, 10);
    for (let i = 0; i < 14; i++) iv[i]! ^= this.km.salt[i] ?? 0;
    const c = crypto.createCipheriv(this.algorithm, key, iv);
    return Buffer.concat([c.update(payload), c.final()]);
  }

  /** Take over a rekeyed SEK (the sender pre-announces the next key with a KMREQ). */
  update(km: KeyMaterial): void {
    if (km.even) this.km.even = km.even;
    if (km.odd) this.km.odd = km.odd;
  }
}
