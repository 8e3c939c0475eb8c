/**
 * OpenTelemetry: with `tracing.otlpEndpoint` set, spans reach an OTLP/HTTP (JSON) receiver started
 * by the test: an API request span that continues the caller's W3C traceparent (its trace id is in
 * the access log), and one trace per video spanning upload → probe → transcode → package.
 * Without an endpoint nothing is sent.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startApi } from '../helpers/api-server.js';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { Tracing } from '../../src/observability/tracing.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** An OTLP/HTTP receiver collecting exported spans. */
async function receiver(t: TestContext): Promise<{ url: string; spans: OtlpSpan[]; posts: string[] }> {
  const spans: OtlpSpan[] = [];
  const posts: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, posts };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('API request spans continue the caller trace and reach the OTLP receiver', async (t) => {
  const otlp = await receiver(t);
  const api = await startApi(t, { 'tracing.otlpEndpoint': otlp.url });
  const token = await api.token(['videos:read']);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  const res = await fetch(`${api.url}/api/v1/videos`, { headers: { authorization: `Bearer ${token}`, traceparent: `00-${traceId}-${parent}-01` } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await api.strom.obs.tracing.flush();
  await until(() => otlp.spans.some((s) => s.name === 'GET /api/v1/videos'));
  const span = otlp.spans.find((s) => s.name === 'GET /api/v1/videos')!;
  assert.equal(span.traceId, traceId);
  assert.equal(span.parentSpanId, parent);
  const status = span.attributes.find((a) => a.key === 'http.response.status_code');
  assert.equal(Number(status?.value.intValue), 200);
  assert.match(otlp.posts[0]!, /^POST \/v1\/traces application\/json/);
});

test('the access-log line of a traced request carries its trace id', async (t) => {
  const otlp = await receiver(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-trace-log-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, logLevel: 'info', 'tracing.otlpEndpoint': otlp.url }), pino({ level: 'info' }, sink));
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const res = await fetch(`${url}/api/v1/videos`, { headers: { 'x-request-id': 'traced-1' } });
  assert.equal(res.status, 401);
  await res.arrayBuffer();
  await strom.obs.tracing.flush();
  await until(() => otlp.spans.some((s) => s.name === 'GET /api/v1/videos'));
  const line = lines.find((l) => l.msg === 'access' && l.reqId === 'traced-1');
  assert.equal(line?.traceId, otlp.spans.find((s) => s.name === 'GET /api/v1/videos')!.traceId);
});

test('one trace per video: upload → probe → transcode → package', async (t) => {
  const otlp = await receiver(t);
  const api = await startApi(t, { 'tracing.otlpEndpoint': otlp.url });
  const bus = api.strom.bus;
  const videoId = 'traceVideo1';
  bus.publish('video.created', { videoId, title: 'traced' });
  for (const phase of ['probe', 'transcode', 'transcode', 'package']) bus.publish('video.progress', { videoId, phase, percent: 50, speed: 2 });
  bus.publish('video.progress', { videoId, phase: 'done', percent: 100, speed: 2 });
  bus.publish('video.ready', { videoId, durationS: 3 });
  await api.strom.obs.tracing.flush();
  await until(() => otlp.spans.some((s) => s.name === `video ${videoId}`));
  const root = otlp.spans.find((s) => s.name === `video ${videoId}`)!;
  const children = otlp.spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId).map((s) => s.name);
  assert.deepEqual(children, ['upload', 'probe', 'transcode', 'package']);
  assert.ok(root.attributes.some((a) => a.key === 'video.id' && a.value.stringValue === videoId));
});

test('without an endpoint tracing is a no-op', () => {
  const config = testConfig();
  assert.equal(config.tracing.otlpEndpoint, null);
  const tracing = new Tracing(config.tracing);
  assert.equal(tracing.enabled, false);
  assert.equal(tracing.startRequest('GET', '/x', undefined), null);
});
