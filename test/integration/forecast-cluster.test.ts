/**
 * The cluster-wide forecast through a real Redis: two nodes' ForecastServices share their model
 * forecasts in `strom:forecast:nodes`; the cluster scope is the sum of both models plus a
 * scheduled stream's audience counted once (less the viewers it already has on either node); the
 * node scopes split that audience evenly and add up to the cluster figure; a node that stops
 * sampling drops out after the TTL, and a stopped node withdraws its entry. The exposition text
 * and the store's rows are fixed inputs (the edges); clocks are simulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startRedis } from '../helpers/redis.js';
import { connectRedis } from '../../src/cluster/redis-connection.js';
import { ForecastShare } from '../../src/cluster/forecast-share.js';
import { ForecastService } from '../../src/observability/forecast/forecast-service.js';
import { testConfig } from '../../src/config.js';
import type { LiveStreamRow } from '../../src/store/db/schema.js';

const STEP = 30_000;
const cfg = { ...testConfig({}).forecast, sampleIntervalMs: STEP, rampMs: 5 * 60_000, bytesPerViewer: 1000 };
const log = pino({ level: 'silent' });

test('two nodes: models summed, the scheduled audience counted once, stale and stopped nodes drop out', async (t) => {
  const redis = await startRedis();
  let now = 1_800_000_000_000;
  const event: LiveStreamRow = {
    id: 'ls_event', title: 'event', stream_key: 'k', visibility: 'public', status: 'idle', record: 0, abr: 0, srt_passphrase: null, source: null,
    source_on_demand: 1, scheduled_start: now + 10 * STEP, expected_viewers: 1000, created_at: 0, updated_at: 0,
  };
  const conns: ReturnType<typeof connectRedis>[] = [];
  const node = (id: string, viewers: number, eventViewers: number) => {
    const conn = connectRedis(redis.url, id, log);
    t.after(() => conn.close());
    conns.push(conn);
    let bytes = 0;
    return new ForecastService(cfg, {
      // Constant viewers; 1 MB more sent at every reading.
      exposition: async () => `strom_live_viewers{stream="x",protocol="http-flv"} ${viewers}\nstrom_http_response_bytes_total{group="media"} ${(bytes += 1e6)}\n`,
      scheduled: async (from, to) => (event.scheduled_start! >= from && event.scheduled_start! <= to ? [event] : []),
      streamViewers: () => new Map([[event.id, eventViewers]]),
      share: new ForecastShare(conn, id, 3 * STEP),
      log,
      now: () => now,
    });
  };
  const a = node('node-a', 100, 0);
  const b = node('node-b', 300, 200);
  await waitFor(() => conns.every((c) => c.ready()));
  // The first reading of each only primes the byte counter; then two samples each, 30 s apart.
  for (let i = 0; i < 3; i++) {
    if (i > 0) now += STEP;
    await a.sample();
    await b.sample();
  }
  assert.equal(a.forecaster.length, 2);

  // Constant series forecast themselves: models 100 (A) and 300 (B). The event starts in 5 min:
  // 1000 expected, 200 already watching on B → 800 to come, once for the cluster, 400 per node.
  const fa = await a.current();
  const fb = await b.current();
  assert.equal(fa.nodes, 2);
  assert.deepEqual(fa.cluster.viewers, { '5m': 1200, '15m': 1200 });
  assert.deepEqual(fb.cluster.viewers, fa.cluster.viewers, 'every node exports the same cluster figure');
  assert.deepEqual(fa.node.viewers, { '5m': 500, '15m': 500 });
  assert.deepEqual(fb.node.viewers, { '5m': 700, '15m': 700 });
  // Egress: the models (1 MB per 30 s = 33,333 B/s each) plus 800 × 1000 B/s.
  assert.equal(fa.cluster.egressBps['5m'], 2 * 33_333 + 800_000);
  assert.equal(fa.node.egressBps['5m'] + fb.node.egressBps['5m'], fa.cluster.egressBps['5m'], 'node figures add up to the cluster');

  // The gauges carry the same figures.
  const registry = new Registry();
  a.register(registry);
  const text = await registry.metrics();
  assert.match(text, /strom_forecast_viewers\{horizon="5m",scope="cluster"\} 1200/);
  assert.match(text, /strom_forecast_viewers\{horizon="15m",scope="node"\} 500/);

  // B stops sampling: after 3 intervals its entry is stale, A forgets it (and B's 200 viewers).
  now += 4 * STEP;
  await a.sample();
  const alone = await a.current();
  assert.equal(alone.nodes, 1);
  assert.deepEqual(alone.cluster.viewers, { '5m': 1100, '15m': 1100 });
  const probe = connectRedis(redis.url, 'probe', log);
  t.after(() => probe.close());
  await waitFor(() => probe.ready());
  assert.deepEqual(Object.keys(await probe.cmd.hgetall('strom:forecast:nodes')), ['node-a'], 'the stale entry was deleted');

  await a.stop();
  assert.deepEqual(await probe.cmd.hgetall('strom:forecast:nodes'), {}, 'a stopped node withdraws its entry');
  await b.stop();
});

async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), 'redis connections ready');
}

