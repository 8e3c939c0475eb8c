/**
 * Move the media segments of a clip to a timeline of its own. A CMAF fragment states the decode
 * time of its first sample in `tfdt` (baseMediaDecodeTime, ISO/IEC 14496-12 §8.8.12), per track
 * (`tfhd` track_ID, §8.8.7), in the track's `mdhd` timescale. Segments copied from the middle of
 * an asset keep their old times; shifting every `tfdt` by one per-track delta makes the clip start
 * where the source asset started, so players (hls.js takes the first fragment's time as its
 * initPTS) and `ffprobe` see a clip whose timeline begins at the source's own origin — including
 * whatever edit list the init segment carries. Only the `tfdt` fields change; sizes and offsets do
 * not, so `trun` data offsets stay valid. Pure: bytes in, bytes out.
 */

interface Box {
  type: string;
  /** Offset of the payload (after the header). */
  start: number;
  end: number;
}

/** The boxes directly inside `[start, end)` of `buf` (§4.2: 32-bit size, 64-bit largesize, 0 = to the end). */
function children(buf: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  let off = start;
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    let header = 8;
    if (size === 1) {
      if (off + 16 > end) break;
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) size = end - off;
    if (size < header || off + size > end) throw new RangeError(`box at ${off} of ${size} bytes overruns its parent (${end})`);
    out.push({ type: buf.toString('latin1', off + 4, off + 8), start: off + header, end: off + size });
    off += size;
  }
  return out;
}

/** Each `traf` of each `moof` as (track_ID, offset of its tfdt payload or -1). */
function trackFragments(buf: Buffer): { trackId: number; tfdt: number }[] {
  const out: { trackId: number; tfdt: number }[] = [];
  for (const moof of children(buf, 0, buf.length).filter((b) => b.type === 'moof')) {
    for (const traf of children(buf, moof.start, moof.end).filter((b) => b.type === 'traf')) {
      const kids = children(buf, traf.start, traf.end);
      const tfhd = kids.find((b) => b.type === 'tfhd');
      const tfdt = kids.find((b) => b.type === 'tfdt');
      if (tfhd && tfhd.end - tfhd.start >= 8) out.push({ trackId: buf.readUInt32BE(tfhd.start + 4), tfdt: tfdt ? tfdt.start : -1 });
    }
  }
  return out;
}

function readTfdt(buf: Buffer, at: number): bigint {
  return buf[at] === 1 ? buf.readBigUInt64BE(at + 4) : BigInt(buf.readUInt32BE(at + 4));
}

/** The decode time of the first fragment of each track in a media segment, by track_ID. */
export function firstDecodeTimes(segment: Buffer): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const f of trackFragments(segment)) {
    if (f.tfdt >= 0 && !out.has(f.trackId)) out.set(f.trackId, readTfdt(segment, f.tfdt));
  }
  return out;
}

/**
 * A copy of `segment` with every `tfdt` lowered by its track's delta. Throws on a time that would
 * go negative (a delta from the wrong asset) rather than writing a wrapped one.
 */
export function shiftDecodeTimes(segment: Buffer, delta: Map<number, bigint>): Buffer {
  const out = Buffer.from(segment);
  for (const f of trackFragments(out)) {
    const d = delta.get(f.trackId) ?? 0n;
    if (f.tfdt < 0 || d === 0n) continue;
    const t = readTfdt(out, f.tfdt) - d;
    if (t < 0n) throw new RangeError(`track ${f.trackId}: decode time would become ${t}`);
    if (out[f.tfdt] === 1) out.writeBigUInt64BE(t, f.tfdt + 4);
    else out.writeUInt32BE(Number(t), f.tfdt + 4);
  }
  return out;
}

/** Per-track delta that moves `clipFirst` (the clip's first segment's times) onto `origin` (the source's first). */
export function rebaseDelta(origin: Map<number, bigint>, clipFirst: Map<number, bigint>): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const [track, t] of clipFirst) out.set(track, t - (origin.get(track) ?? 0n));
  return out;
}
