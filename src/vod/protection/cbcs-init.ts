/**
 * The init segment of a `cbcs` track (ISO/IEC 23001-7 "Common encryption", CENC): the sample
 * entry becomes `encv`/`enca` and gains a `sinf` (§8.12 of ISO/IEC 14496-12) naming the original
 * format (`frma`), the scheme (`schm` = cbcs, version 1.0) and its defaults (`schi`/`tenc`, CENC
 * §8.2: version 1 with the crypt:skip pattern, default KID, no per-sample IV and the constant IV);
 * `moov` gains one `pssh` (CENC §8.1) per DRM system — W3C ClearKey (a v1 box listing the KID) and
 * Widevine (its protobuf naming the KID and the cbcs scheme) — so an external license server plugs
 * in without repackaging. Every ancestor box is rebuilt so its size is measured, never patched.
 */
import { box, fullBox, u32, u8 } from '../../media/iso-bmff/box.js';
import { childBoxes } from '../../media/iso-bmff/find-box.js';

/** W3C Common PSSH / ClearKey system id (EME "Common SystemID and PSSH Box Format"). */
export const CLEARKEY_SYSTEM_ID = Buffer.from('1077efecc0b24d02ace33c1e52e2fb4b', 'hex');
/** Widevine system id. */
export const WIDEVINE_SYSTEM_ID = Buffer.from('edef8ba979d64acea3c827dcd51d21ed', 'hex');

/** The pattern of a track: video 1 encrypted block in 10 (CENC §10.4.1), audio whole samples (0:0). */
export function patternOf(kind: 'video' | 'audio'): { crypt: number; skip: number } {
  return kind === 'video' ? { crypt: 1, skip: 9 } : { crypt: 0, skip: 0 };
}

/** `tenc` (CENC §8.2) version 1: pattern, protected, Per_Sample_IV_Size 0, KID, constant IV. */
export function tenc(kind: 'video' | 'audio', kid: Buffer, iv: Buffer): Buffer {
  const p = patternOf(kind);
  return fullBox('tenc', 1, 0, u8(0, (p.crypt << 4) | p.skip, 1, 0), kid, u8(iv.length), iv);
}

/** `sinf` for a sample entry whose original format was `format`. */
export function sinf(format: string, kind: 'video' | 'audio', kid: Buffer, iv: Buffer): Buffer {
  return box('sinf', box('frma', Buffer.from(format, 'latin1')), fullBox('schm', 0, 0, Buffer.from('cbcs', 'latin1'), u32(0x10000)), box('schi', tenc(kind, kid, iv)));
}

/** A ClearKey `pssh` (version 1: the KIDs in the box, no data). */
export function clearKeyPssh(kid: Buffer): Buffer {
  return fullBox('pssh', 1, 0, CLEARKEY_SYSTEM_ID, u32(1), kid, u32(0));
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Widevine's PSSH data: protobuf WidevinePsshData with key_id (field 2) and protection_scheme (field 9 = 'cbcs'). */
export function widevinePsshData(kid: Buffer): Buffer {
  return Buffer.concat([u8(0x12, kid.length), kid, u8(0x48), varint(0x63626373)]);
}

/** A Widevine `pssh` (version 0). */
export function widevinePssh(kid: Buffer): Buffer {
  const data = widevinePsshData(kid);
  return fullBox('pssh', 0, 0, WIDEVINE_SYSTEM_ID, u32(data.length), data);
}

/** Bytes of fields before the child boxes of a box type (stsd entry count; sample entry fields, §12.1.3/§12.2.3). */
const CHILD_START: Record<string, number> = { stsd: 8, avc1: 78, avc3: 78, mp4a: 28 };
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);

/** Rewrite the box tree: `visit` may replace a (leaf or sample entry) box; containers are rebuilt around their children. */
function rewrite(buf: Buffer, start: number, end: number, visit: (type: string, whole: Buffer) => Buffer | null): Buffer {
  return Buffer.concat(childBoxes(buf, start, end).map(({ type, at, size }) => {
    const whole = buf.subarray(at, at + size);
    const replaced = visit(type, whole);
    if (replaced) return replaced;
    const skip = CHILD_START[type];
    if (!CONTAINERS.has(type) && skip === undefined) return whole;
    const inner = rewrite(buf, at + 8 + (skip ?? 0), at + size, visit);
    return box(type, buf.subarray(at + 8, at + 8 + (skip ?? 0)), inner);
  }));
}

/**
 * The protected init segment: `avc1`/`avc3` → `encv`, `mp4a` → `enca` with a `sinf` appended,
 * and the two `pssh` boxes at the end of `moov`. Throws on an init without exactly one such entry.
 */
export function protectInit(init: Buffer, kind: 'video' | 'audio', kid: Buffer, iv: Buffer): Buffer {
  let entries = 0;
  const out = rewrite(init, 0, init.length, (type, whole) => {
    if (type === 'stsd' || CHILD_START[type] === undefined) return null;
    entries++;
    return box(kind === 'video' ? 'encv' : 'enca', whole.subarray(8), sinf(type, kind, kid, iv));
  });
  if (entries !== 1) throw new RangeError(`expected one avc1/avc3/mp4a sample entry, found ${entries}`);
  return Buffer.concat(childBoxes(out, 0, out.length).map(({ type, at, size }) => {
    const whole = out.subarray(at, at + size);
    return type === 'moov' ? box('moov', whole.subarray(8), clearKeyPssh(kid), widevinePssh(kid)) : whole;
  }));
}
