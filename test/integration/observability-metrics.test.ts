/**
 * /metrics after real traffic: the exposition is parsed, request counters and histograms move
 * with bounded labels (route group × status class, never an asset id or token), hot-cache and
 * connection figures come from the live components, access rules hold, the separate listener
 * works, and each request leaves one structured access-log line.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startApi } from '../helpers/api-server.js';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';

/** One sample of the text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse Prometheus text format 0.0.4 (samples only; HELP/TYPE lines checked separately). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of m[2] ? m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) : []) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : 0;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** A published asset without ffmpeg: a playlist and one segment. */
function publishAsset(dataDir: string, id: string): number {
  const dir = path.join(dataDir, 'assets', id, 'v1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dataDir, 'assets', id, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nv1/index.m3u8\n');
  const seg = Buffer.alloc(64 * 1024, 7);
  writeFileSync(path.join(dir, 'seg_00001.m4s'), seg);
  return seg.length;
}

test('request metrics, bytes, hot cache and connections move after real traffic, with bounded labels', async (t) => {
  const api = await startApi(t);
  const id = 'obsMetricsAsset7';
  const segBytes = publishAsset(api.dataDir, id);
  const token = await api.token(['videos:read'], 600, 'metrics-tester');
  const before = await scrape(api.url);
  const b = (name: string, labels: Record<string, string> = {}) => value(before, name, labels);

  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${api.url}/v/${id}/v1/seg_00001.m4s`)).status, 200);
  assert.equal((await fetch(`${api.url}/v/${id}/master.m3u8`)).status, 200);
  assert.equal((await fetch(`${api.url}/v/${id}/v1/seg_99999.m4s`)).status, 404);
  assert.equal((await fetch(`${api.url}/api/v1/videos`)).status, 401);
  assert.equal((await fetch(`${api.url}/api/v1/videos?token=${token}`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  assert.equal((await fetch(`${api.url}/no/such/route`)).status, 404);

  const text = await (await fetch(`${api.url}/metrics`)).text();
  assert.match(text, /# TYPE strom_http_request_duration_seconds histogram/);
  assert.match(text, /# TYPE strom_hot_cache_hits_total counter/);
  const after = parseExposition(text);
  const a = (name: string, labels: Record<string, string> = {}) => value(after, name, labels);
  const count = 'strom_http_request_duration_seconds_count';
  assert.equal(a(count, { group: 'media', status: '2xx' }) - b(count, { group: 'media', status: '2xx' }), 4);
  assert.equal(a(count, { group: 'media', status: '4xx' }) - b(count, { group: 'media', status: '4xx' }), 1);
  assert.equal(a(count, { group: 'api', status: '4xx' }) - b(count, { group: 'api', status: '4xx' }), 1);
  assert.equal(a(count, { group: 'api', status: '2xx' }) - b(count, { group: 'api', status: '2xx' }), 1);
  assert.equal(a(count, { group: 'other', status: '4xx' }) - b(count, { group: 'other', status: '4xx' }), 1);
  assert.ok(a(count, { group: 'metrics', status: '2xx' }) >= 1, 'the first scrape itself is counted');
  // Histogram buckets are cumulative and end at +Inf = count.
  const buckets = after.filter((s) => s.name === 'strom_http_request_duration_seconds_bucket' && s.labels.group === 'media' && s.labels.status === '2xx');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  assert.equal(buckets.at(-1)!.value, a(count, { group: 'media', status: '2xx' }));
  assert.ok(a('strom_http_request_duration_seconds_sum', { group: 'media', status: '2xx' }) > 0);

  const sentMedia = a('strom_http_response_bytes_total', { group: 'media' }) - b('strom_http_response_bytes_total', { group: 'media' });
  assert.ok(sentMedia >= 3 * segBytes, `media bytes ${sentMedia} ≥ 3 segments`);
  // Same segment three times: one miss loads it, the later ones hit.
  assert.ok(a('strom_hot_cache_hits_total') - b('strom_hot_cache_hits_total') >= 2, 'hot cache hits moved');
  assert.ok(a('strom_hot_cache_bytes') >= segBytes, 'hot cache holds the segment');
  assert.ok(a('strom_http_open_connections') >= 1);
  assert.ok(after.some((s) => s.name === 'strom_jobs' && s.labels.state === 'queued'), 'job queue depth exported');
  assert.ok(after.some((s) => s.name === 'strom_llhls_blocked_requests'));
  assert.ok(after.some((s) => s.name.startsWith('nodejs_eventloop_lag')), 'prom-client default metrics');
  assert.ok(after.some((s) => s.name.startsWith('nodejs_gc_duration_seconds')), 'GC metrics');

  // Bounded labels: no asset id, token or path in any label value; groups from the fixed set.
  for (const s of after) {
    for (const v of Object.values(s.labels)) {
      assert.ok(!v.includes(id) && !v.includes(token) && !v.includes('/'), `label value ${v} of ${s.name}`);
    }
    if (s.labels.group !== undefined) assert.ok(['media', 'api', 'upload', 'live', 'events', 'health', 'metrics', 'other'].includes(s.labels.group));
    if (s.name.startsWith('strom_http_request_duration') && s.labels.status !== undefined) assert.match(s.labels.status, /^[1-5]xx$/);
  }

  // The LL-HLS module can feed its gauge later.
  api.strom.obs.setLlHlsBlockedSource(() => 3);
  assert.equal(value(await scrape(api.url), 'strom_llhls_blocked_requests'), 3);
});

test('job attempts and the queue depth reach the metrics', async (t) => {
  const api = await startApi(t, { 'jobs.maxAttempts': 1 });
  const video = await api.strom.control.store.videos.create({ title: 'no source' });
  await api.strom.vod.enqueue(video.id); // no stored source: the job's only attempt fails at once
  let samples: Sample[] = [];
  for (let i = 0; i < 100; i++) {
    samples = await scrape(api.url);
    if (value(samples, 'strom_jobs_finished_total', { kind: 'transcode', outcome: 'failed' }) > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(value(samples, 'strom_jobs_finished_total', { kind: 'transcode', outcome: 'failed' }), 1);
  assert.equal(value(samples, 'strom_job_duration_seconds_count', { kind: 'transcode', outcome: 'failed' }), 1);
  assert.equal(value(samples, 'strom_jobs', { state: 'failed' }), 1);
  assert.equal(value(samples, 'strom_jobs', { state: 'queued' }), 0);
});

test('/metrics outside metrics.allow needs an admin token', async (t) => {
  const api = await startApi(t, { 'metrics.allow': '10.0.0.0/8' });
  const noToken = await fetch(`${api.url}/metrics`);
  assert.equal(noToken.status, 401);
  assert.match(noToken.headers.get('www-authenticate') ?? '', /^Bearer/);
  const reader = await api.token(['videos:read']);
  assert.equal((await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${reader}` } })).status, 403);
  const admin = await api.token(['admin']);
  await scrape(api.url, { authorization: `Bearer ${admin}` });
});

test('metrics.port serves /metrics on its own listener and not on the main port', async (t) => {
  const api = await startApi(t, { 'metrics.port': 0 });
  const port = api.strom.metricsListener?.port();
  assert.ok(port, 'metrics listener bound');
  assert.equal((await fetch(`${api.url}/metrics`)).status, 404);
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  const samples = await scrape(`http://127.0.0.1:${port}`);
  assert.equal(value(samples, 'strom_http_request_duration_seconds_count', { group: 'health', status: '2xx' }), 1);
  assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
});

async function withLogs(t: TestContext, overrides: Record<string, unknown>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-obs-log-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, logLevel: 'info', ...overrides }), pino({ level: 'info' }, sink));
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { strom, url, dir, lines };
}

test('one access line per API request (reqId, route, status, bytes, duration, subject); media lines only when enabled', async (t) => {
  const s = await withLogs(t, { 'log.accessMediaEvery': 1 });
  const token = await signApiToken(s.strom.config, loadApiSecret(s.strom.config), { scopes: ['videos:read'], ttlS: 60, sub: 'alice' });
  publishAsset(s.dir, 'logAsset1');
  const res = await fetch(`${s.url}/api/v1/videos`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-obs-1' } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal((await fetch(`${s.url}/v/logAsset1/master.m3u8?token=secret`)).status, 200);
  await new Promise((r) => setTimeout(r, 50));
  const api = s.lines.filter((l) => l.msg === 'access' && l.reqId === 'req-obs-1');
  assert.equal(api.length, 1, 'exactly one access line for the API request');
  const l = api[0]!;
  assert.equal(l.route, '/api/v1/videos');
  assert.equal(l.group, 'api');
  assert.equal(l.status, 200);
  assert.equal(l.sub, 'alice');
  assert.ok(typeof l.bytes === 'number' && l.bytes > 0);
  assert.ok(typeof l.durationMs === 'number' && l.durationMs >= 0);
  assert.ok(!s.lines.some((x) => x.msg === 'request completed' || x.msg === 'incoming request'), 'Fastify default request lines replaced');
  const media = s.lines.filter((x) => x.msg === 'access' && x.group === 'media');
  assert.equal(media.length, 1);
  assert.equal(media[0]!.path, '/v/logAsset1/master.m3u8', 'path without the query (tokens)');
  assert.equal(media[0]!.status, 200);
});

test('media requests are not access-logged by default', async (t) => {
  const s = await withLogs(t, {});
  publishAsset(s.dir, 'logAsset2');
  assert.equal((await fetch(`${s.url}/v/logAsset2/master.m3u8`)).status, 200);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.lines.filter((x) => x.msg === 'access' && x.group === 'media').length, 0);
});

test('QoE API: 401 without a token, 404 for an unknown video, empty for a video without CMCD; CMSD header when enabled', async (t) => {
  const api = await startApi(t, { 'qoe.cmsd': true });
  const token = await api.token(['videos:read']);
  assert.equal((await api.call('GET', '/api/v1/videos/nope/qoe')).status, 401);
  assert.equal((await api.call('GET', '/api/v1/videos/nope/qoe', { token })).status, 404);
  assert.equal((await api.call('GET', '/api/v1/live-streams/nope/qoe', { token })).status, 404);
  const video = await api.strom.control.store.videos.create({ title: 'quiet' });
  const res = await api.call('GET', `/api/v1/videos/${video.id}/qoe`, { token });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { sessions: number; startupMs: number | null };
  assert.equal(body.sessions, 0);
  assert.equal(body.startupMs, null);
  publishAsset(api.dataDir, 'cmsdAsset1');
  const media = await fetch(`${api.url}/v/cmsdAsset1/master.m3u8`);
  assert.equal(media.headers.get('cmsd-static'), 'v=1,st=v,n="strom"');
  assert.match(media.headers.get('access-control-expose-headers') ?? '', /CMSD-Static/);
});
