/**
 * Scheduled live streams and the viewer forecast on a real server (SQLite): POST/PATCH
 * /api/v1/live-streams store and return `scheduledStart` / `expectedViewers`; a past, unparsable
 * or far-future start and a negative, fractional or absurd audience are catalog 400s naming the
 * value; /metrics adds a scheduled stream's expected viewers to `strom_forecast_viewers` within
 * the horizon (and its egress at `forecast.bytesPerViewer`), not when it starts later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { parseProm } from '../../src/observability/prom-text.js';

type Stream = { id: string; scheduledStart: string | null; expectedViewers: number | null };
type Err = { error: { code: string; message: string } };
const MIN = 60_000;
const at = (ms: number) => new Date(Date.now() + ms).toISOString();

async function forecast(api: ApiServer): Promise<Map<string, number>> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const s of parseProm(text)) {
    if (s.name === 'strom_forecast_viewers' || s.name === 'strom_forecast_egress_bytes_per_second') out.set(`${s.name}{${s.labels.horizon},${s.labels.scope}}`, s.value);
  }
  return out;
}

test('scheduled streams: stored, returned, validated, and counted in the forecast within the horizon', async (t) => {
  const api = await startApi(t, { 'forecast.sampleIntervalMs': 1000, 'forecast.rampMs': 5 * MIN, 'forecast.bytesPerViewer': 1000 });
  const token = await api.token(['live:write']);
  const create = (json: unknown) => api.call('POST', '/api/v1/live-streams', { token, json });

  // Nothing scheduled: the forecast is the model's (no viewers on this node).
  const empty = await forecast(api);
  assert.equal(empty.get('strom_forecast_viewers{5m,node}'), 0);
  assert.equal(empty.get('strom_forecast_viewers{15m,cluster}'), 0);

  const soonAt = at(2 * MIN);
  const soonRes = await create({ title: 'keynote', scheduledStart: soonAt, expectedViewers: 1234 });
  assert.equal(soonRes.status, 201);
  const soon = (await soonRes.json()) as Stream;
  assert.equal(soon.scheduledStart, soonAt);
  assert.equal(soon.expectedViewers, 1234);
  const got = (await (await api.call('GET', `/api/v1/live-streams/${soon.id}`, { token })).json()) as Stream;
  assert.deepEqual([got.scheduledStart, got.expectedViewers], [soonAt, 1234]);
  // Starts in 40 min: its ramp (from minute 35) is past the 15-minute horizon.
  const later = (await (await create({ scheduledStart: at(40 * MIN), expectedViewers: 5000 })).json()) as Stream;
  const unscheduled = (await (await create({ title: 'plain' })).json()) as Stream;
  assert.deepEqual([unscheduled.scheduledStart, unscheduled.expectedViewers], [null, null]);

  let f = await forecast(api);
  assert.equal(f.get('strom_forecast_viewers{5m,node}'), 1234);
  assert.equal(f.get('strom_forecast_viewers{15m,node}'), 1234);
  assert.equal(f.get('strom_forecast_viewers{5m,cluster}'), 1234, 'a single node: cluster = node');
  assert.ok(f.get('strom_forecast_egress_bytes_per_second{5m,node}')! >= 1234 * 1000, `egress of the expected viewers at forecast.bytesPerViewer: ${JSON.stringify([...f])}`);

  // Moved to 12 min ahead: inside the 15-minute horizon, not the 5-minute one (its ramp starts at minute 7).
  const moved = await api.call('PATCH', `/api/v1/live-streams/${later.id}`, { token, json: { scheduledStart: at(12 * MIN) } });
  assert.equal(moved.status, 200);
  f = await forecast(api);
  assert.equal(f.get('strom_forecast_viewers{5m,node}'), 1234);
  assert.equal(f.get('strom_forecast_viewers{15m,node}'), 1234 + 5000);

  // Cleared: null removes the audience from the forecast.
  const cleared = (await (await api.call('PATCH', `/api/v1/live-streams/${soon.id}`, { token, json: { expectedViewers: null } })).json()) as Stream;
  assert.equal(cleared.expectedViewers, null);
  assert.equal(cleared.scheduledStart, soonAt, 'the start stays');
  f = await forecast(api);
  assert.equal(f.get('strom_forecast_viewers{5m,node}'), 0);

  // Refusals: catalog 400s naming the offending value, on create and on patch.
  const refused = async (res: Response, code: string, value: string) => {
    assert.equal(res.status, 400);
    const e = ((await res.json()) as Err).error;
    assert.equal(e.code, code);
    assert.ok(e.message.includes(value), `${e.message} names ${value}`);
  };
  const past = at(-10 * MIN);
  await refused(await create({ scheduledStart: past, expectedViewers: 10 }), 'LIVE_SCHEDULED_START_INVALID', past);
  const far = at(400 * 24 * 60 * MIN);
  await refused(await create({ scheduledStart: far }), 'LIVE_SCHEDULED_START_INVALID', far);
  await refused(await create({ scheduledStart: 'tomorrow' }), 'LIVE_SCHEDULED_START_INVALID', 'tomorrow');
  await refused(await create({ scheduledStart: '2030-01-01' }), 'LIVE_SCHEDULED_START_INVALID', '2030-01-01');
  await refused(await create({ expectedViewers: -5 }), 'LIVE_EXPECTED_VIEWERS_INVALID', '-5');
  await refused(await create({ expectedViewers: 12.5 }), 'LIVE_EXPECTED_VIEWERS_INVALID', '12.5');
  await refused(await create({ expectedViewers: 100_000_001 }), 'LIVE_EXPECTED_VIEWERS_INVALID', '100000001');
  await refused(await api.call('PATCH', `/api/v1/live-streams/${soon.id}`, { token, json: { scheduledStart: past } }), 'LIVE_SCHEDULED_START_INVALID', past);
  // A start within the tolerance (30 s ago: clock skew) is accepted.
  assert.equal((await create({ scheduledStart: at(-30_000), expectedViewers: 0 })).status, 201);

  // The OpenAPI document describes the new fields.
  const spec = JSON.stringify(await (await api.call('GET', '/api/v1/openapi.json')).json());
  assert.ok(spec.includes('scheduledStart') && spec.includes('expectedViewers'), 'in the OpenAPI document');
});
