/**
 * `cbcs` encryption of the CMAF fragments ffmpeg wrote (ISO/IEC 23001-7 §7, ISO/IEC 14496-12
 * §8.8). For every `moof`: each `traf`'s samples are located through `tfhd`/`trun` (sizes per
 * sample or the tfhd default; offsets from the moof start, default-base-is-moof), encrypted in
 * place in the `mdat` (cbcs never changes a sample's size), and the `traf` gains the sample
 * auxiliary information: `senc` (CENC §7.2: no per-sample IV — the constant IV is in `tenc` — and,
 * for video, the subsample map), `saiz` (§8.7.8, its sizes) and `saio` (§8.7.9, the offset of the
 * first entry in `senc` from the moof start). The moof grows by those boxes, so each `trun`
 * data_offset moves by the growth, and a `sidx` in front (§8.16.3) has its referenced sizes grown
 * to match. Anything this packager does not expect is refused rather than guessed.
 */
import { box, fullBox, u16, u32, u8 } from '../../media/iso-bmff/box.js';
import { childBoxes, type BoxAt } from '../../media/iso-bmff/find-box.js';
import { avcSubsamples, blockCipher, cryptSample, type Subsample } from './cbcs-sample.js';

/** What encrypting a track's fragments needs. */
export interface CbcsTrackParams {
  kind: 'video' | 'audio';
  key: Buffer;
  iv: Buffer;
  crypt: number;
  skip: number;
  /** AVC NAL length field size (video). */
  lengthSize: number;
}

/** Sample sizes and the data_offset position of each trun of a traf. */
function runsOf(buf: Buffer, traf: BoxAt): { runs: Array<{ offsetAt: number; dataOffset: number; sizes: number[] }>; kids: BoxAt[] } {
  const kids = childBoxes(buf, traf.at + 8, traf.at + traf.size);
  const tfhd = kids.find((k) => k.type === 'tfhd');
  if (!tfhd) throw new RangeError('traf without tfhd');
  const flags = buf.readUInt32BE(tfhd.at + 8) & 0xffffff;
  if (flags & 0x1) throw new RangeError('tfhd base_data_offset is not supported (expected default-base-is-moof)');
  let p = tfhd.at + 16 + (flags & 0x2 ? 4 : 0) + (flags & 0x8 ? 4 : 0);
  const defaultSize = flags & 0x10 ? buf.readUInt32BE(p) : null;
  const runs = kids.filter((k) => k.type === 'trun').map((t) => {
    const f = buf.readUInt32BE(t.at + 8) & 0xffffff;
    const count = buf.readUInt32BE(t.at + 12);
    if (!(f & 0x1)) throw new RangeError('trun without data_offset');
    const offsetAt = t.at + 16;
    p = offsetAt + 4 + (f & 0x4 ? 4 : 0);
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
      if (f & 0x100) p += 4;
      let size = defaultSize;
      if (f & 0x200) size = buf.readUInt32BE(p);
      p += f & 0x200 ? 4 : 0;
      p += (f & 0x400 ? 4 : 0) + (f & 0x800 ? 4 : 0);
      if (size === null) throw new RangeError('no sample size in trun or tfhd');
      sizes.push(size);
    }
    return { offsetAt, dataOffset: buf.readInt32BE(offsetAt), sizes };
  });
  return { runs, kids };
}

/** `senc` (flags 2 when subsamples are listed) and the per-sample entry sizes for `saiz`. */
function sencOf(samples: Array<Subsample[] | null>): { senc: Buffer; sizes: number[] } {
  const sub = samples.some((s) => s !== null);
  const entries = samples.map((s) => (s === null ? Buffer.alloc(0) : Buffer.concat([u16(s.length), ...s.map((x) => Buffer.concat([u16(x.clear), u32(x.protected)]))])));
  for (const e of entries) if (e.length > 255) throw new RangeError(`a sample has ${(e.length - 2) / 6} subsamples; saiz cannot describe more than 42`);
  return { senc: fullBox('senc', 0, sub ? 2 : 0, u32(samples.length), ...entries), sizes: entries.map((e) => e.length) };
}

/** Encrypt every fragment of a CMAF media segment; returns the new segment (the input is not modified). */
export function encryptFragments(segment: Buffer, t: CbcsTrackParams): Buffer {
  const buf = Buffer.from(segment);
  const cipher = blockCipher(t.key, false);
  const top = childBoxes(buf, 0, buf.length);
  const growth: number[] = [];
  const parts = top.map((b) => {
    if (b.type !== 'moof') return buf.subarray(b.at, b.at + b.size);
    const kids = childBoxes(buf, b.at + 8, b.at + b.size);
    const trafs = kids.filter((k) => k.type === 'traf').map((traf) => {
      const r = runsOf(buf, traf);
      const samples: Array<Subsample[] | null> = [];
      for (const run of r.runs) {
        let at = b.at + run.dataOffset;
        for (const size of run.sizes) {
          if (at + size > buf.length) throw new RangeError(`sample of ${size} bytes at ${at} is past the end of the segment`);
          const sample = buf.subarray(at, at + size);
          const subs = t.kind === 'video' ? avcSubsamples(sample, t.lengthSize) : null;
          cryptSample(sample, subs, cipher, t.iv, t.crypt, t.skip);
          samples.push(subs);
          at += size;
        }
      }
      return { traf, r, ...sencOf(samples), count: samples.length };
    });
    // Layout: moof = header + its boxes, each traf = header + old children + saiz + saio + senc.
    const saizOf = (x: (typeof trafs)[number]) => fullBox('saiz', 0, 0, u8(0), u32(x.count), Buffer.from(x.sizes));
    const added = trafs.reduce((a, x) => a + saizOf(x).length + 20 /* saio v0, one entry */ + x.senc.length, 0);
    growth.push(added);
    let cursor = b.at + 8; // position in the old moof, mapped to the new one by `shift`
    let shift = 0;
    const out: Buffer[] = [];
    for (const k of kids) {
      const x = trafs.find((tr) => tr.traf.at === k.at);
      if (!x) {
        out.push(buf.subarray(k.at, k.at + k.size));
        cursor += k.size;
        continue;
      }
      const old = Buffer.from(buf.subarray(k.at, k.at + k.size));
      for (const run of x.r.runs) old.writeInt32BE(run.dataOffset + added, run.offsetAt - k.at);
      const saiz = saizOf(x);
      // saio offset: from the moof start to the first senc entry (after its full box header and sample_count).
      const sencAt = (cursor - b.at) + shift + k.size + saiz.length + 20;
      const saio = fullBox('saio', 0, 0, u32(1, sencAt + 16));
      const traf = box('traf', old.subarray(8), saiz, saio, x.senc);
      out.push(traf);
      shift += traf.length - k.size;
      cursor += k.size;
    }
    return box('moof', ...out);
  });
  return fixSidx(Buffer.concat(parts), growth);
}

/** Grow the referenced sizes of a leading `sidx` (§8.16.3) by each moof's growth. */
function fixSidx(seg: Buffer, growth: number[]): Buffer {
  for (const b of childBoxes(seg, 0, seg.length)) {
    if (b.type !== 'sidx') continue;
    const version = seg[b.at + 8]!;
    const countAt = b.at + 12 + 8 + (version === 0 ? 8 : 16) + 2;
    const count = seg.readUInt16BE(countAt);
    const total = growth.reduce((a, g) => a + g, 0);
    if (count !== growth.length && count !== 1) throw new RangeError(`sidx with ${count} references over ${growth.length} fragments`);
    for (let i = 0; i < count; i++) {
      const at = countAt + 2 + 12 * i;
      const word = seg.readUInt32BE(at);
      const size = (word & 0x7fffffff) + (count === 1 ? total : growth[i]!);
      seg.writeUInt32BE(((word & 0x80000000) | size) >>> 0, at);
    }
  }
  return seg;
}
