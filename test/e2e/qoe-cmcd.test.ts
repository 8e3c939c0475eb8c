/**
 * End to end QoE: hls.js with CMCD enabled plays a fixture asset in headless Chromium, once with
 * CMCD in the query string and once in CMCD-* request headers (which also exercises the CORS
 * preflight allowing them). The QoE API then reports each session with a plausible startup time
 * and bitrate, and the bounded-label QoE metrics moved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import type { QoeSession } from '../../src/observability/qoe.js';

const ID = 'qoeVideo1';
let browser: Browser;
let strom: Strom;
let url: string;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'strom-qoe-'));
  await makeFixtureAsset({ dataDir, id: ID, seconds: 6, segmentSeconds: 1, extras: false });
  strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false }));
  ({ url } = await strom.listen());
  await strom.control.store.videos.create({ id: ID, title: 'QoE fixture' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface QoeReport {
  sessions: number;
  startupMs: number | null;
  avgBitrateKbps: number | null;
  recentSessions: QoeSession[];
}

async function qoeReport(): Promise<QoeReport> {
  const token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read'], ttlS: 60 });
  const res = await fetch(`${url}/api/v1/videos/${ID}/qoe`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as QoeReport;
}

async function playWithCmcd(sessionId: string, useHeaders: boolean): Promise<QoeSession> {
  const r = await playInBrowser(browser, {
    player: 'hls', src: `${url}/v/${ID}/master.m3u8`, untilEnded: true, timeoutMs: 60_000,
    // A short forward buffer so requests keep coming after playback starts (startup needs one without `su`).
    hlsConfig: { cmcd: { sessionId, contentId: ID, useHeaders }, maxBufferLength: 2, maxMaxBufferLength: 2 },
  });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime})`);
  if (!useHeaders) assert.ok(r.requests.some((u) => u.includes('CMCD=')), 'hls.js sent CMCD in the query');
  const report = await qoeReport();
  const s = report.recentSessions.find((x) => x.sid === sessionId);
  assert.ok(s, `session ${sessionId} in ${JSON.stringify(report.recentSessions.map((x) => x.sid))}`);
  assert.equal(s.type, 'vod');
  assert.equal(s.contentId, ID);
  assert.ok(s.requests >= 6, `requests ${s.requests}`);
  assert.ok(s.startupMs !== null && s.startupMs > 0 && s.startupMs < 10_000, `startup ${s.startupMs} ms`);
  assert.ok(s.avgBitrateKbps !== null && s.avgBitrateKbps > 0, `bitrate ${s.avgBitrateKbps}`);
  assert.ok(s.avgBufferMs !== null && s.avgBufferMs >= 0, `buffer ${s.avgBufferMs}`);
  return s;
}

test('hls.js CMCD in the query string gives a QoE session with startup time and bitrate', async () => {
  await playWithCmcd('qoe-query-session', false);
});

test('hls.js CMCD in request headers is read too; aggregates and metrics cover both sessions', async () => {
  await playWithCmcd('qoe-header-session', true);
  const report = await qoeReport();
  assert.equal(report.sessions, 2);
  assert.ok(report.startupMs !== null && report.startupMs > 0 && report.startupMs < 10_000);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /strom_qoe_startup_seconds_count\{type="vod"\} 2/);
  assert.match(metrics, /strom_qoe_sessions_total\{type="vod"\} 2/);
  assert.doesNotMatch(metrics, new RegExp(`${ID}|qoe-query-session`), 'no ids in metric labels');
});
