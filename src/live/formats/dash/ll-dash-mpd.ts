/**
 * Dynamic MPD for low-latency DASH over the same CMAF segments as LL-HLS (SPECS.md "Live DASH";
 * ISO/IEC 23009-1 §5.3.1.2 MPD@type="dynamic", availabilityStartTime, publishTime,
 * minimumUpdatePeriod, timeShiftBufferDepth; §5.3.9.4 SegmentTemplate with `$Number$`;
 * §5.3.9.5.3 availabilityTimeOffset / availabilityTimeComplete; §5.8.4.11 UTCTiming with
 * urn:mpeg:dash:utc:http-iso:2014; DASH-IF IOP "Low-latency Modes for DASH" §9.X.4: ServiceDescription
 * Latency@target, chunked segments announced availabilityTimeOffset = segment − chunk duration).
 *
 * Timing model: segment N (= HLS media sequence N, `seg_N.m4s`) covers media time
 * [PTO + N·d, PTO + (N+1)·d) with d = `llhls.segmentTargetMs`, and becomes available (its first
 * chunk) at AST + N·d + chunk. AST and PTO are anchored once, on the first segment (its
 * PROGRAM-DATE-TIME and decode time), and never move, because players cache them. Segments are cut
 * at keyframes at/after the target, so a GOP equal to the target (the usual live setting) keeps the
 * template exact; a longer GOP makes the player ask a little early, and the route then holds the
 * request until the segment starts (ll-dash-routes.ts).
 */
import type { LlHlsMuxer } from '../hls/ll-hls-muxer.js';
import { isoDuration } from '../../recording/vod-manifests.js';

/** The fixed timing anchor of one muxer. */
interface Anchor {
  astMs: number;
  ptoMs: number;
}

const anchors = new WeakMap<LlHlsMuxer, Anchor>();

/** Options of the rendered MPD. */
export interface LlDashOptions {
  codecs: string[];
  width?: number;
  height?: number;
  /** Absolute URL of the UTCTiming source (GET → ISO 8601 time). */
  timeUrl: string;
  /** Query string (with `?`) carried onto segment URLs, e.g. a playback token. */
  query: string;
  /** ServiceDescription Latency@target, ms. */
  targetLatencyMs: number;
  now?: number;
}

/** AST/PTO of a muxer, fixed by its first segment (null before one exists). */
export function dashAnchor(mux: LlHlsMuxer): Anchor | null {
  let a = anchors.get(mux);
  if (a !== undefined) return a;
  const s = mux.segments[0];
  if (s === undefined) return null;
  const d = mux.opts.segmentTargetMs;
  a = { astMs: s.pdtMs - s.msn * d, ptoMs: s.startMs - s.msn * d };
  anchors.set(mux, a);
  return a;
}

/** The dynamic MPD of `mux` (which must have a segment: `mux.ready`). */
export function renderLlDashMpd(mux: LlHlsMuxer, o: LlDashOptions): string {
  const a = dashAnchor(mux);
  if (a === null) throw new RangeError('no segment yet');
  const d = mux.opts.segmentTargetMs;
  const part = mux.opts.partTargetMs;
  const complete = mux.segments.filter((s) => s.complete);
  const depthMs = Math.max(d, complete.reduce((n, s) => n + s.durationMs, 0));
  const hasVideo = o.codecs.some((c) => !c.startsWith('mp4a') && c !== 'opus');
  const size = o.width && o.height ? ` width="${o.width}" height="${o.height}"` : '';
  const bandwidth = Math.max(1, Math.ceil(mux.peakBitrate));
  const iso = (ms: number) => new Date(ms).toISOString();
  const ended = mux.ended;
  const endAttrs = ended ? ` mediaPresentationDuration="${isoDuration((mux.segments.at(-1)?.msn ?? 0) * d + (mux.segments.at(-1)?.durationMs ?? 0))}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011,http://www.dashif.org/guidelines/low-latency-live-v5" availabilityStartTime="${iso(a.astMs)}" publishTime="${iso(o.now ?? Date.now())}" minimumUpdatePeriod="${isoDuration(d)}" timeShiftBufferDepth="${isoDuration(depthMs)}" maxSegmentDuration="${isoDuration(mux.targetDurationS * 1000)}" minBufferTime="${isoDuration(part)}"${endAttrs}>
  <ServiceDescription id="0">
    <Latency referenceId="0" target="${o.targetLatencyMs}" min="${Math.round(o.targetLatencyMs / 2)}" max="${o.targetLatencyMs * 3}"/>
    <PlaybackRate min="0.96" max="1.04"/>
  </ServiceDescription>
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="${hasVideo ? 'video' : 'audio'}" mimeType="${hasVideo ? 'video' : 'audio'}/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="0" codecs="${o.codecs.join(',')}" bandwidth="${bandwidth}"${size}>
        <SegmentTemplate timescale="1000" presentationTimeOffset="${a.ptoMs}" startNumber="0" duration="${d}" initialization="init.mp4${o.query}" media="seg_$Number$.m4s${o.query}" availabilityTimeOffset="${((d - part) / 1000).toFixed(3)}" availabilityTimeComplete="false"/>
      </Representation>
    </AdaptationSet>
  </Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="${o.timeUrl}"/>
</MPD>
`;
}
