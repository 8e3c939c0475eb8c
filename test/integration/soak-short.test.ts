/**
 * The soak harness (bench/soak/) at CI scale: a real `strom serve` with its delivery worker under
 * two reconnecting RTMP publishers, a few dozen viewers over HTTP-FLV, WS-FLV, LL-HLS, LL-DASH,
 * WHEP and VOD ranges joining and leaving, tus uploads (straight, resumed, cancelled) through the
 * transcode, API reads and SSE subscribers, for under two minutes. A run this short cannot tell a
 * slow leak from warm-up, so the memory and descriptor slopes have a wide bound (a gross leak
 * still fails it); no viewer may be disconnected unexpectedly, no error line may be logged, every
 * upload must be ready and the cancelled ones gone. The full run is `npx tsx bench/soak/run.ts`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoak } from '../../bench/soak/soak.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('short soak: flat-ish memory and fds, no unexpected disconnect, no error line, uploads ready', { timeout: 240_000 }, async (t) => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'strom-soak-ci-'));
  t.after(() => rmSync(outDir, { recursive: true, force: true }));
  const r = await runSoak({
    root, outDir, minutes: 1.75, viewers: 30, whep: 2, whip: false, uploadEveryS: 30, sampleS: 5, sse: 2,
    publisherUpS: [45, 60], viewerLifeS: [10, 40], rampS: 10,
    targets: { warmupS: 30, slopePctPerHour: 1500, loopP99Ms: 500 },
  });
  const report = r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.figure}`).join('\n');
  t.diagnostic(report);
  assert.ok(r.tally.joins >= 30, `viewers joined (${r.tally.joins})`);
  assert.ok(r.tally.publisherReconnects >= 2, `publishers reconnected (${r.tally.publisherReconnects})`);
  assert.ok(r.tally.uploads.started >= 3 && r.tally.uploads.cancelled >= 1 && r.tally.uploads.resumed >= 1, JSON.stringify(r.tally.uploads));
  assert.ok(r.tally.vodRequests > 0 && r.tally.sseEvents > 0, 'VOD ranges and SSE events flowed');
  for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.figure}\n${r.errorLines.join('\n')}`);
});
