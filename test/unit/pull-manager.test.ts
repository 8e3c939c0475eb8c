/**
 * The pulled-source lifecycle against a real stream registry, with a scripted connector standing in
 * for the network (the protocols have their own integration tests): on-demand waits, linger,
 * reconnect within the grace time, giving up, always-on backoff, cool-down, bounds, validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { testConfig } from '../../src/config.js';
import { fail, isStromError } from '../../src/errors.js';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { StreamRegistry, staticKeyResolver } from '../../src/live/stream/stream-registry.js';
import type { ReaderSink } from '../../src/live/stream/reader.js';
import { PullManager } from '../../src/live/pull/pull-manager.js';
import type { SourceSpec } from '../../src/live/pull/pulled-source.js';
import { ConnectorRegistry, type SourceConnection, type SourceConnector, type SourceEnd, type SourceSink } from '../../src/live/pull/connector/source-connector.js';

const log = pino({ level: 'silent' });

function video(key: boolean, dts: number): MediaUnit {
  const b = Buffer.alloc(105);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  return videoToUnit(b, dts)!;
}
const avcConfig = () => videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), 0)!;
const aacConfig = () => audioToUnit(Buffer.from([0xaf, 0, 0x12, 0x10]), 0)!;

/** A connector whose connections the test drives: `mode` decides how the next connect goes. */
class Scripted implements SourceConnector {
  readonly name = 'test';
  readonly schemes = ['test'];
  mode: 'ok' | 'refuse' | 'down' | 'hang' = 'ok';
  connects = 0;
  live: Array<{ sink: SourceSink; end(e: SourceEnd): void; closedWith: string | null }> = [];
  validate(url: URL): void {
    if (url.pathname === '/bad') throw fail('LIVE_SOURCE_BAD_URL', url.href, 'bad path');
  }
  connect(url: URL, sink: SourceSink): Promise<SourceConnection> {
    this.connects++;
    if (this.mode === 'refuse') return Promise.reject(fail('LIVE_SOURCE_REFUSED', url.href, '401 Unauthorized'));
    if (this.mode === 'down') return Promise.reject(fail('LIVE_SOURCE_UNREACHABLE', url.href, 'ECONNREFUSED'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    let end!: (e: SourceEnd) => void;
    const closed = new Promise<SourceEnd>((r) => (end = r));
    const c = { sink, end, closedWith: null as string | null };
    this.live.push(c);
    return Promise.resolve({ closed, close: (reason: string) => { c.closedWith = reason; end({ reason, permanent: false }); } });
  }
  /** Send a GOP start through the newest connection (starting with a non-key frame the gate drops). */
  feed(from: number, frames = 3): void {
    const c = this.live.at(-1)!;
    c.sink.unit(avcConfig());
    c.sink.unit(aacConfig());
    c.sink.unit(video(false, from - 40)); // mid-GOP: dropped
    for (let i = 0; i < frames; i++) c.sink.unit(video(i === 0, from + i * 40));
    c.sink.received(1000);
  }
}

class Sink implements ReaderSink {
  got: MediaUnit[] = [];
  closed: string | null = null;
  write(units: readonly MediaUnit[]): boolean {
    this.got.push(...units);
    return true;
  }
  close(reason: string): void {
    this.closed = reason;
  }
}

function setup(specs: SourceSpec[], tuning: Partial<{ connectTimeoutMs: number; lingerMs: number; reconnectGraceMs: number; retryMaxMs: number }> = {}, maxSources = 10) {
  const registry = new StreamRegistry(testConfig({ 'live.publisherIdleTimeoutMs': 0 }), staticKeyResolver([]), log);
  const connector = new Scripted();
  let demanded = true;
  const states: string[] = [];
  const m = new PullManager({
    registry,
    connectors: new ConnectorRegistry().register(connector),
    tuning: { connectTimeoutMs: 400, lingerMs: 200, reconnectGraceMs: 600, retryMaxMs: 1200, maxBufferBytes: 1 << 20, ...tuning },
    maxSources,
    log,
    lookup: async (id) => specs.find((s) => s.streamId === id) ?? null,
    listAll: async () => specs,
    demand: () => demanded,
    onState: (id, s) => states.push(`${id}:${s.state}`),
  });
  registry.setPulledSource(m);
  return { registry, connector, m, states, setDemand: (d: boolean) => void (demanded = d), close: () => { m.close(); void registry.close(); } };
}

test('on demand: the first viewer connects, waiters get the stream at its first media; no viewers for the linger time closes it', async () => {
  const t = setup([{ streamId: 'cam', url: 'test://camera/one', onDemand: true }]);
  try {
    assert.equal(await t.registry.acquire('nosource'), null, 'a stream without a source is not pulled');
    const a = t.registry.acquire('cam');
    const b = t.registry.acquire('cam');
    await sleep(20);
    assert.equal(t.connector.connects, 1, 'one connection for concurrent viewers');
    t.connector.feed(10_000);
    const [sa, sb] = await Promise.all([a, b]);
    assert.ok(sa !== null && sa === sb && sa.active);
    assert.equal(sa.publisher?.remote, 'test://camera/one');
    assert.deepEqual(t.states, ['cam:connecting', 'cam:live']);
    const st = await t.m.status('cam');
    assert.equal(st?.state, 'live');
    assert.equal(st?.protocol, 'test');
    t.setDemand(false);
    await sleep(500);
    assert.equal(t.connector.live[0]!.closedWith, 'no viewers for 200 ms');
    assert.equal(t.registry.active('cam'), null, 'the stream ended');
    assert.equal((await t.m.status('cam'))?.state, 'idle');
  } finally {
    t.close();
  }
});

test('the keyframe gate: a connection starts at its first keyframe', async () => {
  const t = setup([{ streamId: 'cam', url: 'test://camera/one', onDemand: true }]);
  try {
    const p = t.registry.acquire('cam');
    await sleep(10);
    t.connector.feed(5000);
    const s = (await p)!;
    const sink = new Sink();
    s.addReader('http-flv', sink, () => undefined);
    await sleep(10);
    const frames = sink.got.filter((u) => u.kind === 'video' && !u.config);
    assert.ok(frames.length >= 1 && frames[0]!.keyframe, 'the first frame a reader gets is a keyframe');
  } finally {
    t.close();
  }
});

test('a source that drops is reconnected within the grace time: readers stay; past it the stream ends', async () => {
  const t = setup([{ streamId: 'cam', url: 'test://camera/one', onDemand: true }], { reconnectGraceMs: 1500 });
  try {
    const p = t.registry.acquire('cam');
    await sleep(10);
    t.connector.feed(1000);
    const s = (await p)!;
    const sink = new Sink();
    s.addReader('http-flv', sink, () => undefined);
    t.connector.live[0]!.end({ reason: 'camera rebooted', permanent: false });
    await sleep(50);
    assert.equal(sink.closed, null, 'the reader is kept while reconnecting');
    assert.equal((await t.m.status('cam'))?.state, 'connecting');
    assert.equal((await t.m.status('cam'))?.reason, 'camera rebooted');
    await sleep(1100); // first retry after 1 s
    assert.equal(t.connector.connects, 2);
    t.connector.feed(500); // the new connection's clock starts lower: the hub rebases it
    await sleep(20);
    assert.equal((await t.m.status('cam'))?.state, 'live');
    assert.equal(t.registry.active('cam'), s, 'the same stream went on');
    const dts = sink.got.filter((u) => !u.config).map((u) => u.dts);
    assert.ok(dts.every((d, i) => i === 0 || d >= dts[i - 1]!), `timestamps keep increasing: ${dts.join(',')}`);
    // Now the source stays away (refusing, as an origin does while its publisher restarts): retried
    // until the grace time is spent, then the stream ends.
    t.connector.mode = 'refuse';
    t.connector.live[1]!.end({ reason: 'gone', permanent: false });
    await sleep(1200);
    assert.equal(sink.closed, null, 'a refusal inside the grace time is retried');
    assert.ok(t.connector.connects >= 3);
    await sleep(1000);
    assert.match(sink.closed ?? '', /stream ended/);
    assert.equal((await t.m.status('cam'))?.state, 'failed');
  } finally {
    t.close();
  }
});

test('failures: refused → the viewer gets the catalog error, then the cool-down answers it without connecting', async () => {
  const t = setup([{ streamId: 'cam', url: 'test://camera/one', onDemand: true }]);
  try {
    t.connector.mode = 'refuse';
    await assert.rejects(t.registry.acquire('cam'), (e) => isStromError(e, 'LIVE_SOURCE_REFUSED'));
    await assert.rejects(t.registry.acquire('cam'), (e) => isStromError(e, 'LIVE_SOURCE_REFUSED'));
    assert.equal(t.connector.connects, 1, 'the cool-down (retryMax/6) spares the source');
    await sleep(250);
    t.connector.mode = 'hang';
    await assert.rejects(t.registry.acquire('cam'), (e) => isStromError(e, 'LIVE_SOURCE_TIMEOUT'));
    assert.equal(t.connector.connects, 2);
  } finally {
    t.close();
  }
});

test('always on: connects at start, retries with backoff, bounded sources, URL validation', async () => {
  const t = setup([{ streamId: 'a', url: 'test://camera/a', onDemand: false }], {}, 1);
  try {
    t.connector.mode = 'down';
    await t.m.start();
    await sleep(50);
    assert.equal(t.connector.connects, 1);
    assert.equal((await t.m.status('a'))?.state, 'failed');
    t.connector.mode = 'ok';
    await sleep(1100);
    assert.equal(t.connector.connects, 2, 'retried after 1 s');
    t.connector.feed(0);
    await sleep(20);
    assert.ok(t.registry.active('a'), 'live without any viewer');
    assert.throws(() => t.m.validate('test://camera/bad'), (e) => isStromError(e, 'LIVE_SOURCE_BAD_URL'));
    assert.throws(() => t.m.validate('ftp://x/y'), (e) => isStromError(e, 'LIVE_SOURCE_SCHEME_UNSUPPORTED'));
    assert.throws(() => t.m.validate('not a url'), (e) => isStromError(e, 'LIVE_SOURCE_BAD_URL'));
  } finally {
    t.close();
  }
});

test('at most live.maxPulledSources connect at once: one more is BUSY', async () => {
  const t = setup([{ streamId: 'a', url: 'test://camera/a', onDemand: true }, { streamId: 'b', url: 'test://camera/b', onDemand: true }], {}, 1);
  try {
    t.connector.mode = 'hang';
    const a = t.registry.acquire('a').catch((e: unknown) => e);
    await sleep(10);
    await assert.rejects(t.registry.acquire('b'), (e) => isStromError(e, 'BUSY'));
    assert.ok(isStromError(await a, 'LIVE_SOURCE_TIMEOUT'));
  } finally {
    t.close();
  }
});
