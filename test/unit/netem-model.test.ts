/**
 * The relay's impairment model on counted, clock-free packet streams: each figure is compared
 * with its setting within a stated tolerance (wide enough for the seeded sample, narrow enough to
 * catch a wrong formula), and the bounds hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burstLoss, LinkModel, seededRandom, type Impairment, type Verdict } from '../../bench/netem/model.js';
import { impairmentFromFlags, parseEndpoint, parseRate } from '../../bench/netem/relay.js';

/** Feed `n` packets of `bytes` every `gapMs`; the verdicts in order. */
function run(o: Impairment, n: number, gapMs = 1, bytes = 1000, seed = 7): { model: LinkModel; verdicts: Verdict[] } {
  const model = new LinkModel(o, seededRandom(seed));
  const verdicts: Verdict[] = [];
  for (let i = 0; i < n; i++) verdicts.push(model.admit(bytes, i * gapMs));
  return { model, verdicts };
}

const lossRate = (v: Verdict[]) => v.filter((x) => x.kind === 'drop').length / v.length;

/** Mean length of runs of consecutive drops. */
function meanBurst(v: Verdict[]): number {
  let runs = 0;
  let lost = 0;
  let prev = false;
  for (const x of v) {
    const d = x.kind === 'drop';
    if (d) lost++;
    if (d && !prev) runs++;
    prev = d;
  }
  return lost / runs;
}

test('random loss: 5 % ± 0.3 pp over 100,000 packets, isolated drops (mean run ≈ 1/(1−p)), and a seed replays its pattern', () => {
  const a = run({ loss: 0.05 }, 100_000);
  assert.ok(Math.abs(lossRate(a.verdicts) - 0.05) < 0.003, `loss ${lossRate(a.verdicts)}`);
  assert.equal(a.model.stats.dropped + a.model.stats.sent, 100_000);
  assert.ok(Math.abs(meanBurst(a.verdicts) - 1 / 0.95) < 0.03, `mean run ${meanBurst(a.verdicts)}`);
  const b = run({ loss: 0.05 }, 100_000);
  assert.deepEqual(b.verdicts.map((x) => x.kind), a.verdicts.map((x) => x.kind));
  const c = run({ loss: 0.05 }, 100_000, 1, 1000, 8);
  assert.notDeepEqual(c.verdicts.map((x) => x.kind), a.verdicts.map((x) => x.kind));
});

test('Gilbert-Elliott from "5 % mean loss, bursts of 3": loss 5 % ± 0.5 pp and mean burst 3 ± 0.3 over 200,000 packets', () => {
  const g = burstLoss(0.05, 3);
  assert.ok(Math.abs(g.r - 1 / 3) < 1e-12 && Math.abs(g.p / (g.p + g.r) - 0.05) < 1e-12);
  const { verdicts } = run({ gilbert: g }, 200_000);
  assert.ok(Math.abs(lossRate(verdicts) - 0.05) < 0.005, `loss ${lossRate(verdicts)}`);
  assert.ok(Math.abs(meanBurst(verdicts) - 3) < 0.3, `mean burst ${meanBurst(verdicts)}`);
  assert.throws(() => burstLoss(0, 3), RangeError);
  assert.throws(() => burstLoss(0.05, 0.5), RangeError);
});

test('Gilbert-Elliott with partial loss in each state: stationary loss = (r·lossGood + p·lossBad)/(p+r) ± 0.5 pp', () => {
  const g = { p: 0.02, r: 0.2, lossGood: 0.01, lossBad: 0.5 };
  const { verdicts } = run({ gilbert: g }, 200_000);
  const expected = (g.r * g.lossGood + g.p * g.lossBad) / (g.p + g.r);
  assert.ok(Math.abs(lossRate(verdicts) - expected) < 0.005, `loss ${lossRate(verdicts)} vs ${expected}`);
});

test('delay 50 ms ± jitter 10 ms: every delay in [40, 60], mean 50 ± 0.5, std ≈ 10/√3 ± 0.5; 1 ms spacing reorders, no jitter never does', () => {
  const { model, verdicts } = run({ delayMs: 50, jitterMs: 10 }, 20_000);
  const d = verdicts.map((v, i) => (v.kind === 'send' ? v.at - i : NaN));
  assert.ok(d.every((x) => x >= 40 && x <= 60));
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const std = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / d.length);
  assert.ok(Math.abs(mean - 50) < 0.5, `mean ${mean}`);
  assert.ok(Math.abs(std - 10 / Math.sqrt(3)) < 0.5, `std ${std}`);
  assert.ok(model.stats.reordered > 1000 && model.stats.delayed === 20_000, JSON.stringify(model.stats));
  assert.equal(run({ delayMs: 50 }, 20_000).model.stats.reordered, 0);
});

test('explicit reorder 10 %: ≈ 10 % of packets skip the delay and overtake (± 1 pp)', () => {
  const { model } = run({ delayMs: 20, reorder: 0.1 }, 50_000);
  assert.ok(Math.abs(model.stats.reordered / 50_000 - 0.1) < 0.01, JSON.stringify(model.stats));
});

test('bounds: delay never exceeds maxDelayMs, even with a jitter larger than the delay (and never negative)', () => {
  const { verdicts } = run({ delayMs: 100, jitterMs: 1000, maxDelayMs: 200 }, 10_000);
  const d = verdicts.map((v, i) => (v.kind === 'send' ? v.at - i : NaN));
  assert.ok(d.every((x) => x >= 0 && x <= 200));
  assert.ok(d.some((x) => x === 200) && d.some((x) => x === 0), 'the clamp is reached on both sides');
});

test('rate cap 8 Mbit/s under 16 Mbit/s offered: departures at 8 Mbit/s ± 1 %, the queue holds ≤ its bounds and tail-drops the rest', () => {
  // 1000-byte packets every 0.5 ms = 16 Mbit/s for 2 s.
  const o: Impairment = { rateBps: 8e6, queueMaxPackets: 100, queueMaxBytes: 1e9 };
  const { model, verdicts } = run(o, 4000, 0.5);
  const sent = verdicts.flatMap((v, i) => (v.kind === 'send' ? [{ at: v.at, i }] : []));
  const bits = sent.length * 8000;
  const span = sent.at(-1)!.at - sent[0]!.at + 1; // + one packet's serialization time
  assert.ok(Math.abs(bits / span / 8000 - 1) < 0.01, `rate ${bits / span} bit/ms`);
  assert.ok(model.stats.queueDropped > 1500, JSON.stringify(model.stats));
  // A packet waits at most for the 100 packets queued ahead of it: 100 × 1 ms.
  assert.ok(sent.every(({ at, i }) => at - i * 0.5 <= 100 + 1e-9), 'queue wait bounded by queueMaxPackets');
  const byBytes = run({ rateBps: 8e6, queueMaxBytes: 20_000 }, 4000, 0.5).verdicts;
  assert.ok(byBytes.every((v, i) => v.kind !== 'send' || v.at - i * 0.5 <= 20 + 1e-9), 'queue wait bounded by queueMaxBytes');
});

test('rate cap below the offered rate passes everything unqueued; the token bucket lets a burst of burstBytes through at once', () => {
  const { model } = run({ rateBps: 20e6 }, 2000, 1);
  assert.equal(model.stats.queueDropped + model.stats.delayed, 0);
  const m = new LinkModel({ rateBps: 8e6, burstBytes: 10_000 }, seededRandom(1));
  const at = Array.from({ length: 12 }, () => m.admit(1000, 0)).map((v) => (v.kind === 'send' ? v.at : NaN));
  assert.deepEqual(at.slice(0, 10), Array(10).fill(0));
  assert.deepEqual(at.slice(10), [1, 2]);
});

test('CLI flags: rates, endpoints and the loss/burst forms', () => {
  assert.equal(parseRate('20mbit'), 20e6);
  assert.equal(parseRate('500kbit'), 5e5);
  assert.throws(() => parseRate('fast'), RangeError);
  assert.deepEqual(parseEndpoint('127.0.0.2:40000-40019'), { host: '127.0.0.2', min: 40000, max: 40019 });
  assert.deepEqual(impairmentFromFlags({ loss: '5', delay: '50' }), { loss: 0.05, delayMs: 50 });
  assert.deepEqual(impairmentFromFlags({ loss: '5', burst: '3' }).gilbert, burstLoss(0.05, 3));
});
