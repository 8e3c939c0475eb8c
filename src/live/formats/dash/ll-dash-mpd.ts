/**
 * Dynamic MPD for low-latency DASH over the same CMAF segments as LL-HLS (SPECS.md "Live DASH";
 * ISO/IEC 23009-1 §5.3.1.2 MPD@type="dynamic", availabilityStartTime, publishTime,
 * minimumUpdatePeriod, timeShiftBufferDepth; §5.3.9.4 SegmentTemplate with `$Number$`;
 * §5.3.9.5.3 availabilityTimeOffset / availabilityTimeComplete; §5.8.4.11 UTCTiming: first
 * urn:mpeg:dash:utc:direct:2014 — the time this MPD was written, so a joining player syncs its
 * clock without a request (dash.js made three sequential time requests before its init segment,
 * 150–300 ms of every join); then urn:mpeg:dash:utc:http-iso:2014 for players without direct.
 * The MPD is `max-age=0`, so the direct time is as old as one response; DASH-IF IOP "Low-latency Modes for DASH" §9.X.4: ServiceDescription
 * Latency@target, chunked segments announced availabilityTimeOffset = segment − chunk duration).
 *
 * Timing model: segment N (= HLS media sequence N, `seg_<run>_N.m4s`) covers media time
 * [PTO + N·d, PTO + (N+1)·d) with d = `llhls.segmentTargetMs`, and becomes available (its first
 * chunk) at AST + N·d + chunk. AST and PTO are anchored once, on the first segment (its
 * PROGRAM-DATE-TIME and decode time), and never move, because players cache them. Segments are cut
 * at keyframes at/after the target, so a GOP equal to the target (the usual live setting) keeps the
 * template exact; a longer GOP makes the player ask a little early, and the route then holds the
 * request until the segment starts (ll-dash/ll-dash-playback.ts).
 * Periods (§5.3.2): a publisher takeover with another codec configuration makes the muxer
 * start a new init segment (`init_<run>_<v>.mp4`); the MPD then starts a new Period (id = v) at that
 * segment: Period@start = M·d, startNumber = M, presentationTimeOffset = the decode time of segment
 * M (its first msn), so segment N keeps its place AST + N·d on the same timeline. Each Period's
 * first msn is remembered the first time it is rendered, so a Period's start never moves.
 * Live ABR renditions are extra Representations of the current Period's AdaptationSet
 * (same $Number$ = same MSN, aligned boundaries), under `<rung>/`.
 * Segment and init URLs carry their muxer's run id (hls/live-media-names.ts), each rendition's own:
 * they are immutable, and numbers restart with every muxer.
 */
import type { LlHlsMuxer } from '../hls/ll-hls-muxer.js';
import { initName, segmentTemplate } from '../hls/live-media-names.js';
import { avcCodecString } from '../../stream/codec-config.js';

/** The fixed timing anchor of one muxer. */
interface Anchor {
  astMs: number;
  ptoMs: number;
}

const anchors = new WeakMap<LlHlsMuxer, Anchor>();
const periodStarts = new WeakMap<LlHlsMuxer, Map<number, { msn: number; startMs: number }>>();

/** One extra Representation (a live ABR rendition). */
export interface DashRendition {
  id: string;
  codecs: string[];
  width?: number;
  height?: number;
  bandwidth: number;
  /** URL prefix of its segments and init, e.g. `360p/`. */
  prefix: string;
  /** Run id of the rendition's muxer (in its segment and init names). */
  run: string;
}

/** ISO 8601 duration (xs:duration) of `ms`. */
export function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}

/** `avc1.PPCCLL` read from the avcC box of an init segment (null: not AVC). */
export function avcCodecOfInit(init: Buffer | null): string | null {
  const i = init?.indexOf('avcC') ?? -1;
  return init && i >= 0 && init.length >= i + 8 ? avcCodecString(init.subarray(i + 4)) : null; // avcC payload = the record
}

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
  /** live ABR renditions listed as Representations of the current Period. */
  renditions?: readonly DashRendition[];
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
  const known = periodStarts.get(mux) ?? new Map<number, { msn: number; startMs: number }>();
  periodStarts.set(mux, known);
  for (const seg of mux.segments) if (!known.has(seg.initVersion)) known.set(seg.initVersion, { msn: seg.msn, startMs: seg.startMs });
  const versions = [...new Set(mux.segments.map((x) => x.initVersion))];
  const contentType = hasVideo ? 'video' : 'audio';
  const periods = versions.map((v, k) => {
    const last = k === versions.length - 1;
    const p = known.get(v)!;
    const first = v === 0 ? { start: 0, number: 0, pto: a.ptoMs } : { start: p.msn * d, number: p.msn, pto: p.startMs };
    const vCodec = last ? null : avcCodecOfInit(mux.init(v));
    const codecs = vCodec === null ? o.codecs : [vCodec, ...o.codecs.filter((c) => c.startsWith('mp4a') || c === 'opus')];
    const template = (prefix: string, run: string, init: number) => `<SegmentTemplate timescale="1000" presentationTimeOffset="${first.pto}" startNumber="${first.number}" duration="${d}" initialization="${prefix}${initName(run, init)}${o.query}" media="${prefix}${segmentTemplate(run)}${o.query}" availabilityTimeOffset="${((d - part) / 1000).toFixed(3)}" availabilityTimeComplete="false"/>`;
    const reps = [`      <Representation id="0" codecs="${codecs.join(',')}" bandwidth="${bandwidth}"${size}>
        ${template('', mux.run, v)}
      </Representation>`];
    if (last) {
      for (const r of o.renditions ?? []) {
        const rs = r.width && r.height ? ` width="${r.width}" height="${r.height}"` : '';
        reps.push(`      <Representation id="${r.id}" codecs="${r.codecs.join(',')}" bandwidth="${Math.max(1, Math.ceil(r.bandwidth))}"${rs}>
        ${template(r.prefix, r.run, 0)}
      </Representation>`);
      }
    }
    return `  <Period id="${v}" start="${isoDuration(first.start)}">
    <AdaptationSet id="0" contentType="${contentType}" mimeType="${contentType}/mp4" segmentAlignment="true" startWithSAP="1">
${reps.join('\n')}
    </AdaptationSet>
  </Period>
`;
  }).join('');
  const endAttrs = ended ? ` mediaPresentationDuration="${isoDuration((mux.segments.at(-1)?.msn ?? 0) * d + (mux.segments.at(-1)?.durationMs ?? 0))}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011,http://www.dashif.org/guidelines/low-latency-live-v5" availabilityStartTime="${iso(a.astMs)}" publishTime="${iso(o.now ?? Date.now())}" minimumUpdatePeriod="${isoDuration(d)}" timeShiftBufferDepth="${isoDuration(depthMs)}" maxSegmentDuration="${isoDuration(mux.targetDurationS * 1000)}" minBufferTime="${isoDuration(part)}"${endAttrs}>
  <ServiceDescription id="0">
    <Latency referenceId="0" target="${o.targetLatencyMs}" min="${Math.round(o.targetLatencyMs / 2)}" max="${o.targetLatencyMs * 3}"/>
    <PlaybackRate min="0.96" max="1.04"/>
  </ServiceDescription>
${periods}  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="${iso(o.now ?? Date.now())}"/>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="${o.timeUrl}"/>
</MPD>
`;
}
