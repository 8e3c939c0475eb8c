/**
 * AMF0 (Adobe Action Message Format 0) encoder and decoder for RTMP command and data messages
 * (Adobe RTMP 1.0 §7.1.1, §7.1.2; AMF0 spec §2). Only the types RTMP peers send are supported;
 * anything else, a truncated value or nesting deeper than `MAX_DEPTH` throws RTMP_PROTOCOL, so a
 * hostile peer cannot make the decoder allocate or recurse without bound.
 */
import { fail } from '../../errors.js';

/** An AMF0 value as JavaScript sees it. */
export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | Amf0Object;
/** An AMF0 object or ECMA array. */
export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** True for an object or ECMA array (not null, a strict array or a date). */
export function isAmf0Object(v: Amf0Value | undefined): v is Amf0Object {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** The description (or code) of an `_error` or onStatus information object, for messages. */
export function describeStatus(v: Amf0Value | undefined): string {
  return isAmf0Object(v) ? String(v.description ?? v.code ?? 'no reason given') : 'no reason given';
}

const MAX_DEPTH = 16;
const MAX_ENTRIES = 4096;

/** Decode every value in `buf` (a command: name, transaction id, command object, args...). */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const out: Amf0Value[] = [];
  const pos = { p: 0 };
  while (pos.p < buf.length) out.push(readValue(buf, pos, 0));
  return out;
}

function need(buf: Buffer, pos: { p: number }, n: number): void {
  if (pos.p + n > buf.length) throw fail('RTMP_PROTOCOL', `AMF0 value truncated at byte ${pos.p}`);
}

function readUtf8(buf: Buffer, pos: { p: number }, long: boolean): string {
  need(buf, pos, long ? 4 : 2);
  const len = long ? buf.readUInt32BE(pos.p) : buf.readUInt16BE(pos.p);
  pos.p += long ? 4 : 2;
  need(buf, pos, len);
  const s = buf.toString('utf8', pos.p, pos.p + len);
  pos.p += len;
  return s;
}

function readProps(buf: Buffer, pos: { p: number }, depth: number): Amf0Object {
  const obj: Amf0Object = {};
  for (let n = 0; ; n++) {
    if (n > MAX_ENTRIES) throw fail('RTMP_PROTOCOL', 'AMF0 object has too many properties');
    // A truncated object without its end marker is tolerated at the end of a message (some encoders).
    if (pos.p >= buf.length) return obj;
    const key = readUtf8(buf, pos, false);
    need(buf, pos, 1);
    if (key === '' && buf[pos.p] === 0x09) {
      pos.p++;
      return obj;
    }
    const value = readValue(buf, pos, depth + 1);
    if (key !== '__proto__') obj[key] = value;
  }
}

function readValue(buf: Buffer, pos: { p: number }, depth: number): Amf0Value {
  if (depth > MAX_DEPTH) throw fail('RTMP_PROTOCOL', 'AMF0 nesting too deep');
  need(buf, pos, 1);
  const marker = buf[pos.p++]!;
  switch (marker) {
    case 0x00: {
      need(buf, pos, 8);
      const v = buf.readDoubleBE(pos.p);
      pos.p += 8;
      return v;
    }
    case 0x01:
      need(buf, pos, 1);
      return buf[pos.p++] !== 0;
    case 0x02:
      return readUtf8(buf, pos, false);
    case 0x03:
      return readProps(buf, pos, depth);
    case 0x05:
      return null;
    case 0x06:
      return undefined;
    case 0x08:
      need(buf, pos, 4);
      pos.p += 4; // associative count is only a hint
      return readProps(buf, pos, depth);
    case 0x0a: {
      need(buf, pos, 4);
      const n = buf.readUInt32BE(pos.p);
      pos.p += 4;
      if (n > MAX_ENTRIES) throw fail('RTMP_PROTOCOL', `AMF0 strict array of ${n} entries`);
      const arr: Amf0Value[] = [];
      for (let i = 0; i < n; i++) arr.push(readValue(buf, pos, depth + 1));
      return arr;
    }
    case 0x0b: {
      need(buf, pos, 10);
      const ms = buf.readDoubleBE(pos.p);
      pos.p += 10; // 8-byte time + 2-byte (unused) time zone
      return new Date(ms);
    }
    case 0x0c:
      return readUtf8(buf, pos, true);
    default:
      throw fail('RTMP_PROTOCOL', `unsupported AMF0 marker 0x${marker.toString(16)} at byte ${pos.p - 1}`);
  }
}

/** Encode values one after another, as RTMP command messages carry them. */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) writeValue(parts, v);
  return Buffer.concat(parts);
}

function utf8(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(b.length);
  parts.push(len, b);
}

function writeValue(parts: Buffer[], v: Amf0Value): void {
  if (typeof v === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = 0x00;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') parts.push(Buffer.from([0x01, v ? 1 : 0]));
  else if (typeof v === 'string') {
    parts.push(Buffer.from([0x02]));
    utf8(parts, v);
  } else if (v === null) parts.push(Buffer.from([0x05]));
  else if (v === undefined) parts.push(Buffer.from([0x06]));
  else if (v instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = 0x0b;
    b.writeDoubleBE(v.getTime(), 1);
    parts.push(b);
  } else if (Array.isArray(v)) {
    const b = Buffer.allocUnsafe(5);
    b[0] = 0x0a;
    b.writeUInt32BE(v.length, 1);
    parts.push(b);
    for (const x of v) writeValue(parts, x);
  } else {
    parts.push(Buffer.from([0x03]));
    for (const [k, x] of Object.entries(v)) {
      utf8(parts, k);
      writeValue(parts, x);
    }
    parts.push(Buffer.from([0x00, 0x00, 0x09]));
  }
}

/** Encode an ECMA array (marker 0x08), the form `onMetaData` uses. */
export function encodeAmf0EcmaArray(obj: Amf0Object): Buffer {
  const body = encodeAmf0(obj);
  const head = Buffer.allocUnsafe(5);
  head[0] = 0x08;
  head.writeUInt32BE(Object.keys(obj).length, 1);
  return Buffer.concat([head, body.subarray(1)]);
}
