/**
 * Read access to an ISO BMFF box tree (ISO/IEC 14496-12 §4.2): find a box by its path of types,
 * stepping over the fields that precede the child boxes of `stsd` and of AVC and AAC sample entries
 * (protected `encv`/`enca` entries included), and list the boxes of a range. No full parser:
 * callers read a few fields.
 */

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf']);

/** Find the first box of `type` in the box tree of `buf` (ISO/IEC 14496-12 §4.2), returning its payload. */
export function findBox(buf: Buffer, path: string[], start = 0, end = buf.length): Buffer | null {
  let off = start;
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) size = end - off;
    if (size < header || off + size > end) return null;
    if (type === path[0]) {
      if (path.length === 1) return buf.subarray(off + header, off + size);
      const rest = path.slice(1);
      // stsd: version/flags + entry_count before its sample entries (§8.5.2).
      if (type === 'stsd') return findBox(buf, rest, off + header + 8, off + size);
      // Visual sample entry: 78 bytes of fields before child boxes (§12.1.3); audio: 28 (§12.2.3).
      if (type === 'avc1' || type === 'avc3' || type === 'encv') return findBox(buf, rest, off + header + 78, off + size);
      if (type === 'mp4a' || type === 'enca') return findBox(buf, rest, off + header + 28, off + size);
      if (CONTAINERS.has(type)) return findBox(buf, rest, off + header, off + size);
      return null;
    }
    off += size;
  }
  return null;
}


/** A box located in a buffer: its type, first byte and size (header included). */
export interface BoxAt {
  type: string;
  at: number;
  size: number;
}

/** The boxes from `start` to `end` of `buf`, in order (32-bit sizes); throws on a box that does not fit. */
export function childBoxes(buf: Buffer, start: number, end: number): BoxAt[] {
  const out: BoxAt[] = [];
  for (let at = start; at + 8 <= end;) {
    const size = buf.readUInt32BE(at);
    if (size < 8 || at + size > end) throw new RangeError(`box of size ${size} at byte ${at} does not fit`);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), at, size });
    at += size;
  }
  return out;
}
