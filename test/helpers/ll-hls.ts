/**
 * LL-HLS test helpers: m3u8-parser typed for the low-latency fields (it has no @types), and the
 * conformance checks every live media playlist must pass (SPECS.md "LL-HLS"), shared by the unit,
 * integration and e2e tests so each rule is asserted the same way everywhere.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A part as m3u8-parser reports it. */
export interface LlPart { uri: string; duration: number; independent?: boolean }
/** A segment as m3u8-parser reports it. */
export interface LlSegment { uri: string; duration: number; parts?: LlPart[]; programDateTime?: number; map?: { uri: string } }
/** The LL-HLS fields of a parsed media playlist. */
export interface LlManifest {
  version?: number;
  targetDuration?: number;
  mediaSequence?: number;
  endList?: boolean;
  segments: LlSegment[];
  serverControl?: { canBlockReload?: boolean; partHoldBack?: number; canSkipUntil?: number };
  partInf?: { partTarget: number };
  skip?: { skippedSegments: number };
  preloadSegment?: { parts?: LlPart[]; preloadHints?: Array<{ type: string; uri: string }> };
  renditionReports?: Array<{ uri: string; lastMsn: number; lastPart: number }>;
  playlists?: Array<{ uri: string; attributes: { BANDWIDTH?: number; CODECS?: string } }>;
}

const { Parser } = require('m3u8-parser') as { Parser: new () => { push(s: string): void; end(): void; manifest: LlManifest } };

/** Parse a playlist. */
export function parseLl(text: string): LlManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

/** All parts of a parsed playlist in order (complete segments, then the segment in progress). */
export function allParts(m: LlManifest): LlPart[] {
  return [...m.segments.flatMap((s) => s.parts ?? []), ...(m.preloadSegment?.parts ?? [])];
}

/** Assert the SPECS.md LL-HLS rules that hold for any live LL media playlist. */
export function assertLlConformant(text: string): LlManifest {
  const m = parseLl(text);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '#EXTM3U');
  const partTarget = m.partInf?.partTarget;
  assert.ok(partTarget !== undefined && partTarget > 0, 'EXT-X-PART-INF:PART-TARGET present');
  assert.ok(lines.findIndex((l) => l.startsWith('#EXT-X-PART-INF')) < lines.findIndex((l) => l.startsWith('#EXTINF') || l.startsWith('#EXT-X-PART:')), 'PART-INF before the first segment');
  assert.equal(m.serverControl?.canBlockReload, true, 'CAN-BLOCK-RELOAD=YES');
  assert.ok((m.serverControl?.partHoldBack ?? 0) >= 3 * partTarget - 1e-9, 'PART-HOLD-BACK ≥ 3 × PART-TARGET');
  assert.ok((m.serverControl?.canSkipUntil ?? 0) >= 6 * m.targetDuration!, 'CAN-SKIP-UNTIL ≥ 6 × target duration');
  for (const s of m.segments) assert.ok(Math.round(s.duration) <= m.targetDuration!, `EXTINF ${s.duration} rounds to ≤ target ${m.targetDuration}`);
  for (const s of m.segments) assert.ok(s.programDateTime !== undefined, `${s.uri} has EXT-X-PROGRAM-DATE-TIME`);
  assert.ok(lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME')).every((l) => /T\d\d:\d\d:\d\d\.\d{3}Z$/.test(l)), 'PDT with ms and zone');
  const groups = [...m.segments.map((s) => s.parts ?? []), m.preloadSegment?.parts ?? []];
  for (const parts of groups) {
    parts.forEach((p, i) => {
      assert.ok(p.duration <= partTarget + 1e-9, `${p.uri}: ${p.duration} > PART-TARGET ${partTarget}`);
      const last = i === parts.length - 1 && parts !== groups.at(-1);
      if (!p.independent && !last) assert.ok(p.duration >= 0.85 * partTarget - 1e-9, `${p.uri}: ${p.duration} < 85 % of PART-TARGET`);
    });
    if (parts[0] && parts === groups.find((g) => g === parts) && parts !== groups.at(-1)) assert.equal(parts[0].independent, true, `${parts[0].uri} opens a segment: INDEPENDENT=YES`);
  }
  const total = m.segments.reduce((n, s) => n + s.duration, 0) + (m.preloadSegment?.parts ?? []).reduce((n, x) => n + x.duration, 0);
  const listed = allParts(m).reduce((n, x) => n + x.duration, 0);
  if (m.skip === undefined) assert.ok(listed >= Math.min(3 * m.targetDuration!, total) - 1e-6, `parts listed for ${listed} s < 3 × target duration`);
  const hints = lines.filter((l) => l.startsWith('#EXT-X-PRELOAD-HINT'));
  if (m.endList) assert.equal(hints.length, 0, 'no PRELOAD-HINT after ENDLIST');
  else assert.equal(hints.filter((l) => l.includes('TYPE=PART')).length, 1, 'exactly one PART preload hint');
  return m;
}
