/**
 * `GET /api/v1/metrics/history` on a real server sampling every 100 ms: after some requests it
 * answers points with a request rate, latency quantiles and viewer counts; it needs a token (401)
 * with the admin scope (403); `?since=` returns only newer points; `metrics.historyIntervalMs=0`
 * turns the history off; the route is in the OpenAPI document.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from '../helpers/api-server.js';
import type { HistorySnapshot } from '../../src/observability/metrics-history.js';

const PATH = '/api/v1/metrics/history';

test('history points show the traffic; 401 without a token, 403 without admin', async (t) => {
  const api = await startApi(t, { 'metrics.historyIntervalMs': 100 });
  const admin = await api.token(['admin']);
  const reader = await api.token(['videos:read']);
  for (let i = 0; i < 20; i++) assert.equal((await api.call('GET', '/healthz')).status, 200);
  await new Promise((r) => setTimeout(r, 450));

  const res = await api.call('GET', PATH, { token: admin });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as HistorySnapshot;
  assert.equal(body.intervalMs, 100);
  assert.ok(body.points.length >= 2, `points: ${body.points.length}`);
  assert.ok(body.points.some((p) => p.rps > 0), `a point with requests: ${JSON.stringify(body.points.map((p) => p.rps))}`);
  const busy = body.points.find((p) => p.rps > 0)!;
  assert.ok(busy.p95Ms !== null && busy.p95Ms > 0 && busy.p99Ms !== null && busy.p99Ms >= busy.p95Ms, `quantiles ${busy.p95Ms} / ${busy.p99Ms}`);
  assert.equal(busy.errorRatio, 0);
  assert.deepEqual(Object.keys(busy.viewers).sort(), ['hls', 'http-flv', 'rtmp', 'whep', 'ws-flv']);
  assert.equal(busy.ingestBps, 0);
  for (let i = 1; i < body.points.length; i++) assert.ok(body.points[i]!.t > body.points[i - 1]!.t, 'oldest first');

  const last = body.points.at(-1)!.t;
  const newer = (await (await api.call('GET', `${PATH}?since=${last}`, { token: admin })).json()) as HistorySnapshot;
  assert.ok(newer.points.every((p) => p.t > last), 'since= returns only newer points');
  assert.equal((await api.call('GET', `${PATH}?since=soon`, { token: admin })).status, 400);

  const anonymous = await api.call('GET', PATH);
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  const forbidden = await api.call('GET', PATH, { token: reader });
  assert.equal(forbidden.status, 403);
  assert.equal(((await forbidden.json()) as { error: { code: string } }).error.code, 'INSUFFICIENT_SCOPE');

  const spec = (await (await api.call('GET', '/api/v1/openapi.json')).json()) as { paths: Record<string, unknown> };
  assert.ok(spec.paths[PATH], 'documented in OpenAPI');
});

test('historyIntervalMs=0 turns the history off; a value under 100 ms is refused', async (t) => {
  const api = await startApi(t, { 'metrics.historyIntervalMs': 0 });
  const body = (await (await api.call('GET', PATH, { token: await api.token(['admin']) })).json()) as HistorySnapshot;
  assert.deepEqual(body, { intervalMs: 0, points: [] });
  await assert.rejects(startApi(t, { 'metrics.historyIntervalMs': 20 }), /metrics\.historyIntervalMs/);
});
