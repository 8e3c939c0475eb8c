/** Random identifiers: a role prefix plus base62 characters from the CSPRNG (no modulo bias). */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `prefix` + `length` random base62 characters, e.g. `newId('v_')` → `v_3fQ9…` (18 chars). */
export function newId(prefix: string, length = 16): string {
  let out = prefix;
  while (out.length < prefix.length + length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < prefix.length + length) out += ALPHABET[b % 62];
    }
  }
  return out;
}
