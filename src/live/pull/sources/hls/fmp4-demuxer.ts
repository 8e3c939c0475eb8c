/**
 * fMP4 media segments (RFC 8216 §3.3, CMAF) → hub MediaUnits: each moof (ISO/IEC 14496-12 §8.8.4)
 * is read traf by traf — tfhd defaults and base offset (§8.8.7), tfdt base decode time (§8.8.12),
 * trun samples (§8.8.8: duration, size, flags, composition offset, data offset) — and the samples
 * are cut from the segment's bytes (the mdat that follows). Times are the tracks' own clocks in
 * ms, so segments of a live playlist continue each other. A track's decoder configuration goes
 * out before its first sample, and again after an init section that changes it.
 */
import type { MediaUnit } from '../../../stream/media-unit.js';
import { aacConfigUnit, aacUnit, avcConfigUnit, avcUnit, opusConfigUnit, opusUnit } from '../../../formats/flv/unit-builders.js';
import { hevcConfigUnit, hevcUnit } from '../../../formats/ts/hevc.js';
import { Fmp4Error, parseInit, type Fmp4Track } from './fmp4-init.js';

const NON_SYNC = 0x10000;

/** One sample located in the segment. */
interface Sample {
  track: Fmp4Track;
  dts: number;
  cts: number;
  at: number;
  size: number;
  sync: boolean;
}

/** fMP4 segments in, units out (synchronously, to `out`). */
export class Fmp4Demuxer {
  private tracks = new Map<number, Fmp4Track>();
  /** The configuration last sent per track id. */
  private readonly sent = new Map<number, Buffer>();

  constructor(private readonly out: (u: MediaUnit) => void) {}

  /** A (new) initialisation section; throws Fmp4Error when it cannot be used. */
  init(buf: Buffer): void {
    this.tracks = bounded(() => parseInit(buf));
  }

  /** One media segment (any number of moof + mdat pairs); throws Fmp4Error on a damaged one. */
  push(seg: Buffer): void {
    if (this.tracks.size === 0) throw new Fmp4Error('a media segment before any init section (EXT-X-MAP)');
    bounded(() => this.boxes(seg));
  }

  private boxes(seg: Buffer): void {
    for (let at = 0; at + 8 <= seg.length;) {
      let size = seg.readUInt32BE(at);
      let header = 8;
      if (size === 1 && at + 16 <= seg.length) {
        size = Number(seg.readBigUInt64BE(at + 8));
        header = 16;
      } else if (size === 0) size = seg.length - at;
      if (size < header || at + size > seg.length) throw new Fmp4Error(`a box of ${size} bytes at byte ${at} does not fit the segment`);
      if (seg.toString('latin1', at + 4, at + 8) === 'moof') for (const s of this.moof(seg, at, at + size)) this.emit(seg, s);
      at += size;
    }
  }

  private moof(seg: Buffer, start: number, end: number): Sample[] {
    const samples: Sample[] = [];
    for (let at = start + 8; at + 8 <= end;) {
      const size = seg.readUInt32BE(at);
      if (size < 8 || at + size > end) throw new Fmp4Error('a moof child box does not fit');
      if (seg.toString('latin1', at + 4, at + 8) === 'traf') samples.push(...this.traf(seg, at + 8, at + size, start));
      at += size;
    }
    return samples;
  }

  private traf(seg: Buffer, start: number, end: number, moofAt: number): Sample[] {
    let track: Fmp4Track | undefined;
    let base = moofAt;
    let duration = 0, defSize = 0, defFlags = 0;
    let time = -1;
    const samples: Sample[] = [];
    for (let at = start; at + 12 <= end;) {
      const size = seg.readUInt32BE(at);
      if (size < 12 || at + size > end) throw new Fmp4Error('a traf child box does not fit');
      const type = seg.toString('latin1', at + 4, at + 8);
      const version = seg[at + 8]!;
      const flags = seg.readUIntBE(at + 9, 3);
      let p = at + 12;
      if (type === 'tfhd') {
        track = this.tracks.get(seg.readUInt32BE(p));
        if (track === undefined) return [];
        p += 4;
        ({ defaultDuration: duration, defaultSize: defSize, defaultFlags: defFlags } = track);
        if (flags & 0x1) {
          base = Number(seg.readBigUInt64BE(p));
          p += 8;
        }
        if (flags & 0x2) p += 4;
        if (flags & 0x8) duration = seg.readUInt32BE((p += 4) - 4);
        if (flags & 0x10) defSize = seg.readUInt32BE((p += 4) - 4);
        if (flags & 0x20) defFlags = seg.readUInt32BE(p);
      } else if (type === 'tfdt') {
        time = version === 1 ? Number(seg.readBigUInt64BE(p)) : seg.readUInt32BE(p);
      } else if (type === 'trun' && track !== undefined) {
        if (time < 0) throw new Fmp4Error('a trun without tfdt');
        const count = seg.readUInt32BE(p);
        p += 4;
        let data = base;
        if (flags & 0x1) data = base + seg.readInt32BE((p += 4) - 4);
        let first = -1;
        if (flags & 0x4) first = seg.readUInt32BE((p += 4) - 4);
        const per = (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
        if (p + count * per > at + size) throw new Fmp4Error('a trun longer than its box');
        for (let i = 0; i < count; i++) {
          const d = flags & 0x100 ? seg.readUInt32BE((p += 4) - 4) : duration;
          const s = flags & 0x200 ? seg.readUInt32BE((p += 4) - 4) : defSize;
          const f = flags & 0x400 ? seg.readUInt32BE((p += 4) - 4) : i === 0 && first >= 0 ? first : defFlags;
          const c = flags & 0x800 ? (version === 0 ? seg.readUInt32BE((p += 4) - 4) : seg.readInt32BE((p += 4) - 4)) : 0;
          if (data + s > seg.length) throw new Fmp4Error('a sample reaches past the segment');
          samples.push({ track, dts: time, cts: c, at: data, size: s, sync: (f & NON_SYNC) === 0 });
          data += s;
          time += d;
        }
      }
      at += size;
    }
    return samples;
  }

  private emit(seg: Buffer, s: Sample): void {
    const t = s.track;
    const ms = (ticks: number) => (ticks * 1000) / t.timescale;
    const dts = ms(s.dts);
    const data = seg.subarray(s.at, s.at + s.size);
    const sent = this.sent.get(t.id);
    if (sent === undefined || !sent.equals(t.config)) {
      this.sent.set(t.id, t.config);
      this.out(configUnit(t, dts));
    }
    if (t.kind === 'audio') return this.out(t.codec === 'aac' ? aacUnit(data, dts) : opusUnit(data, dts));
    const nalus: Buffer[] = [];
    for (let p = 0; p + t.lengthSize <= data.length;) {
      const n = data.readUIntBE(p, t.lengthSize);
      p += t.lengthSize;
      if (p + n > data.length) throw new Fmp4Error('a NAL unit reaches past its sample');
      nalus.push(data.subarray(p, p + n));
      p += n;
    }
    const pts = ms(s.dts + s.cts);
    this.out(t.codec === 'avc' ? avcUnit(nalus, dts, pts, s.sync) : hevcUnit(nalus, dts, pts, s.sync));
  }
}

/** `fn()`, a read past a box's bytes (Buffer's RangeError) reported as a damaged box. */
function bounded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) throw new Fmp4Error(`a box shorter than its fields (${err.message})`);
    throw err;
  }
}

/** The track's configuration unit; video records are rewritten for 4-byte NAL lengths (the unit builders'). */
function configUnit(t: Fmp4Track, dts: number): MediaUnit {
  if (t.codec === 'aac') return aacConfigUnit(t.config, dts);
  if (t.codec === 'opus') return opusConfigUnit(t.config, dts);
  const record = Buffer.from(t.config);
  const at = t.codec === 'avc' ? 4 : 21;
  record[at] = record[at]! | 3;
  return t.codec === 'avc' ? avcConfigUnit(record, dts) : hevcConfigUnit(record, dts);
}
