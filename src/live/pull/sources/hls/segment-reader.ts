/**
 * The media of one followed HLS playlist, segment by segment, into units: fMP4 segments (those
 * under an EXT-X-MAP, RFC 8216 §3.3) through Fmp4Demuxer, MPEG-TS segments (§3.2) through the
 * TsDemuxer SRT ingest uses, one demuxer kept across segments so frames and timestamps continue.
 * At an EXT-X-DISCONTINUITY (§4.3.2.3: timestamps, codecs or encoding may change) the TS demuxer
 * starts over and the segment's earliest unit (of any track) is placed 1 ms after the latest one
 * sent, the offset then kept, so the timeline handed on never jumps back on any track. Units of `drop`'s kind are not passed on: the audio of
 * a variant whose audio is followed from its own rendition playlist.
 */
import { TsDemuxer } from '../../../formats/ts/ts-demuxer.js';
import type { MediaUnit, TrackKind } from '../../../stream/media-unit.js';
import { Fmp4Demuxer } from './fmp4-demuxer.js';
import { Fmp4Error } from './fmp4-init.js';
import type { MediaInit, Segment } from './playlist.js';

const TS_SYNC = 0x47;

/** Identity of an init section: its URI and range. */
function initKey(init: MediaInit): string {
  return `${init.uri} ${init.range?.offset ?? ''} ${init.range?.length ?? ''}`;
}

/** Segments in, units out (synchronously). */
export class SegmentReader {
  private ts: TsDemuxer | null = null;
  private readonly fmp4: Fmp4Demuxer;
  private initKey = '';
  private offset = 0;
  private last = -Infinity;
  private rebase = false;
  /** Units of the first segment after a discontinuity, held until its earliest time is known. */
  private held: MediaUnit[] | null = null;

  constructor(private readonly out: (u: MediaUnit) => void, private readonly drop: TrackKind | null, private readonly maxBytes: number) {
    this.fmp4 = new Fmp4Demuxer((u) => this.unit(u));
  }

  /** Whether `seg` names an init section not loaded yet. */
  needsInit(seg: Segment): boolean {
    return seg.init !== undefined && initKey(seg.init) !== this.initKey;
  }

  /** The init section `seg` names, loaded. */
  setInit(seg: Segment, bytes: Buffer): void {
    if (seg.init === undefined) return;
    this.fmp4.init(bytes);
    this.initKey = initKey(seg.init);
  }

  /** One segment's bytes. */
  push(seg: Segment, bytes: Buffer): void {
    if (seg.discontinuity && this.last > -Infinity) {
      this.ts?.flush();
      this.ts = null;
      this.rebase = true;
    }
    if (this.rebase) this.held = [];
    try {
      this.demux(seg, bytes);
    } finally {
      const held = this.held ?? [];
      this.held = null;
      if (held.length > 0) {
        this.offset = this.last + 1 - Math.min(...held.map((u) => u.dts));
        this.rebase = false;
      }
      for (const u of held) this.unit(u);
    }
  }

  private demux(seg: Segment, bytes: Buffer): void {
    if (seg.init !== undefined) return this.fmp4.push(bytes);
    if (bytes[0] !== TS_SYNC) throw new Fmp4Error('a segment that is not MPEG-TS, and no EXT-X-MAP names an fMP4 init section');
    this.ts ??= new TsDemuxer({ unit: (u) => this.unit(u) }, { maxPesBytes: Math.max(1024, Math.min(8 << 20, this.maxBytes)), maxPendingBytes: Math.max(4096, this.maxBytes) });
    this.ts.push(bytes);
  }

  /** The end of the playlist: what the TS demuxer still holds (its last frame) goes out. */
  end(): void {
    this.ts?.flush();
  }

  private unit(u: MediaUnit): void {
    if (u.kind === this.drop) return;
    if (this.held !== null) return void this.held.push(u);
    const out = this.offset === 0 ? u : { ...u, dts: u.dts + this.offset, pts: u.pts + this.offset };
    if (out.dts > this.last) this.last = out.dts;
    this.out(out);
  }
}
