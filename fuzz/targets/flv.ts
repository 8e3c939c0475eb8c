/**
 * The FLV tag demuxer (FLV spec E.4) and the tag-body parsers behind it (E.4.2/E.4.3, Enhanced
 * RTMP), fed in arbitrary splits as ffmpeg's or a relay's output arrives.
 */
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, TAG, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { inPieces, invariant, sameWhenSplit, type FuzzTarget } from '../engine/target.js';

const MAX_TAG = 32 * 1024;
/** An FLV tag header is 11 bytes and each tag is followed by a 4-byte PreviousTagSize. */
const TAG_OVERHEAD = 15;

/** Demux in pieces: only catalog errors; held bytes ≤ one tag; units' timestamps finite. */
export const flv: FuzzTarget = {
  name: 'flv',
  checks: 'only BAD_REQUEST; the same tags whether the stream arrives whole or in pieces; bytes held between pushes ≤ maxTagBytes + 15 (+ the 13-byte file header); tag bodies within the declared size; video/audio units have finite pts/dts and payloads inside the body',
  dict: ['FLV', Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]), Buffer.from([9, 0, 0, 0x20]), Buffer.from([8, 0, 0, 4]), Buffer.from([0x17, 0]), Buffer.from([0x17, 1]), Buffer.from([0xaf, 0]), Buffer.from([0x90]), 'hvc1', 'av01', 'Opus', 'onMetaData'],
  maxLen: 4 * MAX_TAG,
  run(input) {
    sameWhenSplit(input, 2000, (size) => demux(input, size)); // where a socket cuts the stream must not change the tags
  },
};

/** Demuxes `input` pushed in pieces of `size(k)` bytes; tag signatures, or null when refused. */
function demux(input: Buffer, size: (k: number) => number): string[] | null {
  const d = new FlvDemuxer(MAX_TAG);
  return inPieces(input, size, ['BAD_REQUEST'], (piece) => {
    const sigs: string[] = [];
    for (const t of d.push(piece)) {
      invariant(t.body.length <= MAX_TAG, `tag body of ${t.body.length} bytes over the ${MAX_TAG}-byte limit`);
      sigs.push(`${t.type}/${t.timestamp}/${t.body.length}/${t.body.toString('base64', 0, 16)}`);
      const u = t.type === TAG.VIDEO ? videoToUnit(t.body, t.timestamp) : t.type === TAG.AUDIO ? audioToUnit(t.body, t.timestamp) : null;
      if (u) {
        invariant(Number.isFinite(u.dts) && Number.isFinite(u.pts), `unit with dts ${u.dts} pts ${u.pts}`);
        invariant(u.payload.length <= u.body.length, 'unit payload longer than its tag body');
      }
    }
    const held = (d as unknown as { buf: Buffer }).buf.length;
    invariant(held <= MAX_TAG + TAG_OVERHEAD + 13 + piece.length, `demuxer holds ${held} bytes, more than one tag`);
    return sigs;
  });
}
