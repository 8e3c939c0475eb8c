/**
 * CMCD parsing (CTA-5004 §3: numbers, quoted strings with escapes, tokens, bare-key booleans, v2
 * inner lists) and the QoE figures computed from a scripted session: startup, rebuffers and their
 * duration, bitrate mean and switches, throughput, buffer — and the bounds on memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { cmcdOf, hasCmcd, parseCmcdInto } from '../../src/observability/cmcd.js';
import { QoeTracker } from '../../src/observability/qoe.js';
import type { AnyRequest } from '../../src/http-message.js';

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as AnyRequest;

test('parses CTA-5004 key/value pairs', () => {
  const c = parseCmcdInto('br=3200,bl=4000,bs,cid="vid\\"1",d=4004,mtp=25400,ot=v,sf=h,sid="6e2fb550-c457",st=v,su,tb=6000,pr=1.5,unknown=7', {});
  assert.deepEqual(c, { br: 3200, bl: 4000, bs: true, cid: 'vid"1', d: 4004, mtp: 25400, ot: 'v', sf: 'h', sid: '6e2fb550-c457', st: 'v', su: true, tb: 6000, pr: 1.5 });
  assert.deepEqual(parseCmcdInto('br=(800 400),sid="a,b",bl=-5,mtp=x', {}), { br: 800, sid: 'a,b' }, 'inner list, comma inside quotes, invalid numbers dropped');
});

test('reads the CMCD query parameter and the four headers; detects them cheaply', () => {
  const q = req('/v/a/v1/seg.m4s?x=1&CMCD=bl%3D2000%2Cbr%3D600%2Cot%3Dv%2Csid%3D%22s1%22&y=2');
  assert.ok(hasCmcd(q));
  assert.deepEqual(cmcdOf(q), { bl: 2000, br: 600, ot: 'v', sid: 's1' });
  const h = req('/v/a/master.m3u8', { 'cmcd-session': 'sid="s2",st=v', 'cmcd-request': 'mtp=900', 'cmcd-object': 'ot=m', 'cmcd-status': 'bs' });
  assert.ok(hasCmcd(h));
  assert.deepEqual(cmcdOf(h), { sid: 's2', st: 'v', mtp: 900, ot: 'm', bs: true });
  assert.equal(hasCmcd(req('/v/a/master.m3u8', { range: 'bytes=0-1' })), false);
});

test('QoE of a scripted session: startup, rebuffer, bitrate switches, throughput, buffer', async () => {
  const registry = new Registry();
  const qoe = new QoeTracker(registry, { maxSessions: 10, maxContents: 10, sessionIdleMs: 60_000 });
  const t0 = 1_000_000;
  const sid = 'sess-1';
  qoe.record({ sid, ot: 'm', su: true }, 'vid1', 'vod', t0);
  qoe.record({ sid, ot: 'v', br: 600, su: true, mtp: 5000 }, 'vid1', 'vod', t0 + 400);
  qoe.record({ sid, ot: 'v', br: 600, bl: 2000, mtp: 7000 }, 'vid1', 'vod', t0 + 1500); // playing: startup 1500 ms
  qoe.record({ sid, ot: 'v', br: 1200, bl: 0, bs: true, su: true }, 'vid1', 'vod', t0 + 3000); // stalled
  qoe.record({ sid, ot: 'a', br: 96, bl: 1000 }, 'vid1', 'vod', t0 + 3500); // resumed after 500 ms; audio br not a video bitrate
  qoe.record({ sid, ot: 'v', br: 1200, bl: 3000 }, 'vid1', 'vod', t0 + 5500);
  const r = qoe.report('vid1', t0 + 5600)!;
  assert.equal(r.sessions, 1);
  assert.equal(r.startupMs, 1500);
  assert.equal(r.rebuffers, 1);
  assert.equal(r.avgBitrateKbps, 900);
  assert.equal(r.bitrateSwitches, 1);
  assert.equal(r.throughputKbps, 6000);
  const s = r.recentSessions[0]!;
  assert.equal(s.rebufferMs, 500);
  assert.equal(s.rebufferRatio, Math.round((500 / 4000) * 10_000) / 10_000);
  assert.equal(s.bufferMs, 3000);
  const text = await registry.metrics();
  assert.match(text, /strom_qoe_startup_seconds_count\{type="vod"\} 1/);
  assert.match(text, /strom_qoe_rebuffers_total\{type="vod"\} 1/);
  assert.doesNotMatch(text, /vid1|sess-1/, 'no content or session ids in metrics');
});

test('sessions and contents are bounded, and idle sessions are folded into the aggregate', () => {
  const qoe = new QoeTracker(new Registry(), { maxSessions: 3, maxContents: 2, sessionIdleMs: 1000 });
  for (let i = 0; i < 10; i++) qoe.record({ sid: `s${i}`, su: true }, `c${i % 3}`, 'vod', 5000 + i);
  assert.deepEqual(qoe.size, { sessions: 3, contents: 2 });
  qoe.record({ sid: 'a', su: true }, 'late', 'live', 10_000);
  qoe.record({ sid: 'a' }, 'late', 'live', 10_800);
  qoe.record({ sid: 'b' }, 'other', 'live', 20_000); // sweeps 'a' (idle > 1 s): its figures stay in the aggregate
  const r = qoe.report('late', 20_000);
  assert.equal(r?.startupMs, 800);
  assert.equal(r?.activeSessions, 0);
  assert.equal(r?.type, 'live');
  assert.equal(qoe.report('nothing', 20_000), null);
});
