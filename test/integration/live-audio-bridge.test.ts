/**
 * The live audio bridge with real ffmpeg: AAC (RTMP) → Opus for WHEP-style readers, Opus → AAC for
 * HTTP-FLV, LL-HLS keeping Opus, and bad input. Readers are attached through the registry exactly as
 * outputs do (`addReader(id, protocol, sink, { audioCodec })`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { aacConfigUnit, aacUnit, opusConfigUnit, opusUnit } from '../../src/live/formats/flv/unit-builders.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import type { ReaderSink } from '../../src/live/stream/reader.js';
import type { StreamRegistry } from '../../src/live/stream/stream-registry.js';
import { AdtsParser, adtsToAsc } from '../../src/live/formats/audio/adts.js';
import { OggReader } from '../../src/live/formats/audio/ogg.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { opusHeadInfo, opusPacketSamples } from '../../src/live/formats/audio/opus-toc.js';
import { ffmpegPublish, run, startLive, syntheticPublisher, avcConfigBody, avcFrameBody, aacFrameBody, processAlive, waitUntil } from '../helpers/live-fixtures.js';

/** A sink collecting every unit it is handed. */
function collector(): ReaderSink & { units: MediaUnit[]; closed: string | null } {
  const c = {
    units: [] as MediaUnit[], closed: null as string | null,
    write(units: readonly MediaUnit[]) {
      c.units.push(...units);
      return true;
    },
    close(reason: string) {
      c.closed = reason;
    },
  };
  return c;
}

/** `waitUntil` with this file's generous default: ffmpeg children start slowly on a loaded box. */
const until = (cond: () => boolean, what: string, ms = 30_000) => waitUntil(cond, what, ms);


test('AAC (RTMP) → Opus: one shared ffmpeg child, OpusHead + 20 ms Opus units on the video timeline, video shared by reference', async (t) => {
  const h = await startLive();
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 60);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await h.close();
  });
  const reg = h.strom.live.registry;
  await until(() => reg.get('cam1')?.tracks.audio?.codec === 'aac' && reg.get('cam1')!.tracks.video !== undefined, 'ffmpeg publishes H.264 + AAC');

  const plain = collector();
  const plainReader = reg.addReader('cam1', 'http-flv', plain); // no audioCodec: today's behaviour
  const a = collector();
  const ra = reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  await until(() => a.units.filter((u) => u.kind === 'audio' && !u.config).length >= 100, 'opus reader gets 100 audio units (2 s)');

  const cfg = a.units.find((u) => u.kind === 'audio' && u.config)!;
  assert.equal(cfg.codec, 'opus');
  const head = opusHeadInfo(cfg.payload);
  assert.ok(head !== null, 'config unit carries an OpusHead');
  assert.equal(cfg.payload[8], 1, 'OpusHead version 1');
  assert.equal(cfg.payload.readUInt32LE(12), 48000, 'resampled to 48 kHz for libopus');
  const audio = a.units.filter((u) => u.kind === 'audio' && !u.config);
  assert.ok(audio.every((u) => u.codec === 'opus' && opusPacketSamples(u.payload) === 960), 'every packet is 20 ms Opus');
  const steps = audio.slice(1).map((u, i) => u.dts - audio[i]!.dts);
  assert.ok(steps.every((d) => d >= 19 && d <= 21), `dts advance 20 ms (${[...new Set(steps)].join(',')})`);
  const video = a.units.filter((u) => u.kind === 'video' && !u.config);
  const lastA = audio.at(-1)!.dts;
  const nearVideo = video.reduce((best, v) => (Math.abs(v.dts - lastA) < Math.abs(best - lastA) ? v.dts : best), -1e9);
  assert.ok(Math.abs(nearVideo - lastA) < 200, `audio dts ${lastA} tracks the video timeline (nearest video ${nearVideo})`);
  assert.ok(Math.abs(audio[0]!.dts - video[0]!.dts) < 1500, `first audio ${audio[0]!.dts} near first video ${video[0]!.dts}`);
  // The very same video objects the source emitted (shared, not copied).
  const fromSource = new Set(plain.units);
  assert.ok(video.length > 20 && video.every((u) => fromSource.has(u) || u.dts < plain.units[0]!.dts), 'video units are the source\'s objects');
  assert.ok(video.filter((u) => fromSource.has(u)).length > 20);

  // A second Opus reader shares the child.
  const b = collector();
  const rb = reg.addReader('cam1', 'whep', b, { audioCodec: 'opus' });
  await until(() => b.units.some((u) => u.kind === 'audio' && !u.config), 'second reader gets Opus');
  assert.ok(b.units.some((u) => u.kind === 'audio' && u.config && u.codec === 'opus'), 'second reader starts with the OpusHead');
  assert.equal(h.strom.live.bridges.stats().children, 1, 'one ffmpeg child for both');
  const metrics = await h.strom.obs.metrics.exposition();
  assert.match(metrics, /^strom_live_audio_bridge_children 1$/m);
  assert.match(metrics, /^strom_live_audio_bridge_units_total [1-9]\d*$/m);
  assert.match(metrics, /^strom_live_audio_bridge_latency_seconds_count [1-9]\d*$/m);
  const st = reg.status('cam1');
  assert.equal(st.viewers.whep, 2, 'bridged viewers are counted on the source stream');
  assert.equal(st.viewers['http-flv'], 1, 'the bridge\'s own reader is not a viewer');
  assert.equal(st.viewers.total, 3);

  const pid = h.strom.live.bridges.get('cam1', 'opus')!.pid!;
  assert.ok(processAlive(pid));
  ra.close('viewer disconnected');
  await sleep(300);
  assert.ok(processAlive(pid), 'child stays while one reader is left');
  rb.close('viewer disconnected');
  await until(() => !processAlive(pid), `ffmpeg ${pid} exits and is reaped after the last reader left`, 10_000);
  assert.equal(h.strom.live.bridges.stats().children, 0);
  assert.equal(reg.status('cam1').viewers.total, 1);
  plainReader.close('done');
});

/** H.264 units from an ffmpeg-made FLV and Opus packets from an ffmpeg-made Ogg file, `seconds` long. */
function opusSourceMedia(seconds: number): { video: Array<{ body: Buffer; dts: number }>; head: Buffer; opus: Buffer[] } {
  const sh = (args: string[]) => {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr?.toString());
    return r.stdout;
  };
  const flv = sh(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-f', 'flv', 'pipe:1']);
  const video = new FlvDemuxer().push(flv).filter((tag) => tag.type === 9).map((tag) => ({ body: tag.body, dts: tag.timestamp }));
  const ogg = sh(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds), '-ac', '2', '-c:a', 'libopus', '-f', 'ogg', '-page_duration', '20000', 'pipe:1']);
  const packets = new OggReader().push(ogg).flatMap((p) => p.packets);
  return { video, head: packets[0]!, opus: packets.slice(2) };
}

/** Publish `media` into the registry as `streamId` in real time (looping); returns a stop function. */
function publishOpusSource(registry: StreamRegistry, media: ReturnType<typeof opusSourceMedia>) {
  let closed = false;
  const p = { id: 'test-publisher', remote: 'test', close: () => void (closed = true) };
  const s = registry.startPublish('cam1', p);
  const config = media.video.find((v) => videoToUnit(v.body, 0)?.config)!;
  s.push(videoToUnit(config.body, 0)!, config.body.length);
  s.push(opusConfigUnit(media.head, 0), media.head.length);
  const lapMs = Math.floor(media.opus.length * 20 / 1000) * 1000;
  const frames = media.video.filter((v) => v !== config && v.dts < lapMs);
  const start = Date.now();
  let vi = 0;
  let ai = 0;
  const tick = setInterval(() => {
    if (closed) return;
    const now = Date.now() - start + 300; // a small lead, like a real publisher's buffer
    for (;;) {
      const vlap = Math.floor(vi / frames.length);
      const v = frames[vi % frames.length]!;
      const vdts = vlap * lapMs + v.dts;
      const adts = ai * 20;
      if (Math.min(vdts, adts) > now) break;
      if (vdts <= adts) {
        s.push(videoToUnit(v.body, vdts)!, v.body.length);
        vi++;
      } else {
        const pkt = media.opus[ai % media.opus.length]!;
        s.push(opusUnit(pkt, adts), pkt.length);
        ai++;
      }
    }
  }, 10);
  return () => {
    clearInterval(tick);
    registry.stopPublish(s, p, 'test publisher stopped');
  };
}

test('Opus source → HTTP-FLV and RTMP play carry AAC (ffprobe over a real socket); LL-HLS keeps Opus (Opus/dOps init, ffprobe reads the playlist)', async (t) => {
  const media = opusSourceMedia(10);
  const h = await startLive();
  const reg = h.strom.live.registry;
  const stop = publishOpusSource(reg, media);
  const probes: Array<{ kill(): void }> = [];
  t.after(async () => {
    for (const p of probes) p.kill();
    stop();
    await h.close();
  });
  assert.equal(reg.get('cam1')!.tracks.audio?.codec, 'opus');

  const probeFlv = run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', `${h.httpUrl}/live/cam1.flv`], 60_000);
  probes.push({ kill: () => probeFlv.child.kill('SIGKILL') });
  const flv = await probeFlv.done;
  assert.equal(flv.code, 0, flv.stderr);
  const streams = (JSON.parse(flv.stdout) as { streams: Array<{ codec_name: string; codec_type: string; sample_rate?: string; channels?: number }> }).streams;
  const a = streams.find((s) => s.codec_type === 'audio');
  assert.equal(a?.codec_name, 'aac', `HTTP-FLV audio is AAC: ${flv.stdout}`);
  assert.equal(a?.sample_rate, '48000');
  assert.equal(a?.channels, 2);
  assert.equal(streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');

  // RTMP play of the same stream: legacy AAC audio tags (soundFormat 10), sequence header first.
  const player = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  probes.push({ kill: () => player.destroy() });
  const audioTags: Buffer[] = [];
  player.onMedia = (m) => {
    if (m.typeId === 8) audioTags.push(m.payload);
  };
  assert.equal(await player.play('cam1'), 'NetStream.Play.Reset');
  await until(() => audioTags.length >= 20, 'RTMP player receives audio');
  assert.ok(audioTags.every((b) => b[0]! >> 4 === 10), 'every RTMP audio tag is AAC');
  assert.equal(audioTags[0]![1], 0, 'AAC sequence header first');
  assert.ok(audioTags.slice(1).every((b) => b[1] === 1 && b.length > 2));
  player.destroy();

  // LL-HLS of the same stream: Opus in fMP4, untouched by the bridge.
  // The playlist starts the muxer and names its init segment (EXT-X-MAP, with the muxer's run id).
  let map: string | null = null;
  for (let i = 0; i < 100 && map === null; i++) {
    const r = await fetch(`${h.httpUrl}/live/cam1/index.m3u8`);
    map = r.status === 200 ? /#EXT-X-MAP:URI="([^"]+)"/.exec(await r.text())?.[1] ?? null : null;
    if (map === null) await sleep(200);
  }
  assert.ok(map !== null, 'the playlist names an init segment');
  const initRes = await fetch(`${h.httpUrl}/live/cam1/${map}`);
  assert.equal(initRes.status, 200, `${map} served`);
  const init = Buffer.from(await initRes.arrayBuffer());
  assert.ok(init.includes('Opus', 0, 'latin1') && init.includes('dOps', 0, 'latin1'), 'Opus sample entry with dOps');
  const master = await (await fetch(`${h.httpUrl}/live/cam1/master.m3u8`)).text();
  assert.match(master, /CODECS="avc1\.[0-9a-f]{6},opus"/);
  const probeHls = run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', `${h.httpUrl}/live/cam1/plain.m3u8`], 60_000);
  probes.push({ kill: () => probeHls.child.kill('SIGKILL') });
  const hls = await probeHls.done;
  assert.equal(hls.code, 0, hls.stderr);
  const hs = (JSON.parse(hls.stdout) as { streams: Array<{ codec_name: string; codec_type: string }> }).streams;
  assert.equal(hs.find((s) => s.codec_type === 'audio')?.codec_name, 'opus', hls.stdout);
  assert.equal(hs.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
  const metrics = await h.strom.obs.metrics.exposition();
  const sum = Number(/^strom_live_audio_bridge_latency_seconds_sum (\S+)$/m.exec(metrics)?.[1]);
  const count = Number(/^strom_live_audio_bridge_latency_seconds_count (\S+)$/m.exec(metrics)?.[1]);
  t.diagnostic(`Opus→AAC bridge: mean added latency ${((sum / count) * 1000).toFixed(1)} ms over ${count} packets`);
});

test('bad input: garbage AAC → ffmpeg errors logged with the stream id, readers keep video; publisher stop reaps the child, no fd leak', async (t) => {
  const h = await startLive();
  const reg = h.strom.live.registry;
  const fds = () => readdirSync('/proc/self/fd').length;
  const c = await syntheticPublisher(h.rtmpPort);
  let i = 0;
  const tick = setInterval(() => {
    for (let k = 0; k < 2; k++, i++) {
      c.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 300));
      c.send(8, i * 50, aacFrameBody(200)); // valid ASC, garbage raw_data_block
    }
  }, 100);
  t.after(async () => {
    clearInterval(tick);
    c.destroy();
    await h.close();
  });
  await until(() => reg.get('cam1')?.tracks.audio?.codec === 'aac', 'synthetic publisher is live');
  const before = fds();
  const a = collector();
  reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  await until(() => h.strom.live.bridges.get('cam1', 'opus')?.pid != null, 'bridge child started');
  const pid = h.strom.live.bridges.get('cam1', 'opus')!.pid!;
  await until(() => h.logs.some((l) => l.msg === 'audio bridge: ffmpeg error' && l.streamId === 'cam1'), 'the child\'s decode errors are logged with the stream id');
  const videoNow = a.units.filter((u) => u.kind === 'video').length;
  await until(() => a.units.filter((u) => u.kind === 'video').length >= videoNow + 20, 'video keeps flowing to the bridged reader');
  assert.equal(a.closed, null);

  clearInterval(tick);
  c.destroy(); // the publisher goes away
  await until(() => a.closed !== null, 'the bridged reader is ended with the stream');
  assert.match(a.closed!, /stream ended/);
  await until(() => !processAlive(pid), `ffmpeg ${pid} reaped after the publisher stopped`, 10_000);
  assert.equal(h.strom.live.bridges.stats().children, 0);
  assert.equal(h.strom.live.bridges.stats().bridges, 0);
  await until(() => fds() <= before, `fds back to ${before} (now ${fds()})`, 10_000);
});

test('a crashing child is restarted with backoff, bounded, and the readers keep video', async (t) => {
  const h = await startLive({ 'vod.ffmpegPath': '/bin/false', 'live.audioBridgeMaxRestarts': 2 });
  const reg = h.strom.live.registry;
  const c = await syntheticPublisher(h.rtmpPort);
  let i = 0;
  const tick = setInterval(() => {
    c.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 300));
    c.send(8, i * 50, aacFrameBody(40));
    i++;
  }, 50);
  t.after(async () => {
    clearInterval(tick);
    c.destroy();
    await h.close();
  });
  await until(() => reg.get('cam1')?.tracks.audio?.codec === 'aac', 'synthetic publisher is live');
  const a = collector();
  reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  await until(() => h.logs.some((l) => l.msg === 'audio bridge: giving up restarting ffmpeg; viewers keep video without audio'), 'gives up after the bounded restarts');
  assert.equal(h.strom.live.bridges.stats().restarts, 2);
  assert.equal(h.logs.filter((l) => l.msg === 'audio bridge: ffmpeg exited; viewers keep video' && l.streamId === 'cam1').length, 3);
  const v = a.units.filter((u) => u.kind === 'video').length;
  await until(() => a.units.filter((u) => u.kind === 'video').length > v + 10, 'video keeps flowing');
  assert.equal(a.closed, null);
  assert.equal(reg.status('cam1').viewers.whep, 1);
});

/** Strom with `overrides` and a synthetic H.264+AAC publisher on cam1, both closed after the test. */
async function aacPublished(t: TestContext, overrides: Parameters<typeof startLive>[0]) {
  const h = await startLive(overrides);
  const reg = h.strom.live.registry;
  const c = await syntheticPublisher(h.rtmpPort);
  t.after(async () => {
    c.destroy();
    await h.close();
  });
  await until(() => reg.get('cam1')?.tracks.audio?.codec === 'aac', 'synthetic publisher is live');
  return { h, reg };
}

test('over live.audioBridgeMaxChildren a viewer gets the source audio unchanged (counted)', async (t) => {
  const { h, reg } = await aacPublished(t, { 'live.audioBridgeMaxChildren': 0 });
  const a = collector();
  reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  await until(() => a.units.some((u) => u.kind === 'audio'), 'reader gets audio');
  assert.equal(a.units.find((u) => u.kind === 'audio')!.codec, 'aac');
  assert.equal(h.strom.live.bridges.stats().refused, 1);
  assert.match(await h.strom.obs.metrics.exposition(), /^strom_live_audio_bridge_refused_total 1$/m);
});

test('an ffmpeg that cannot be spawned is logged, counted once per attempt, and leaves no child count behind', async (t) => {
  const { h, reg } = await aacPublished(t, { 'vod.ffmpegPath': '/nonexistent/ffmpeg', 'live.audioBridgeMaxRestarts': 1 });
  const a = collector();
  reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  await until(() => h.logs.some((l) => l.msg === 'audio bridge: giving up restarting ffmpeg; viewers keep video without audio'), 'gives up');
  assert.equal(h.logs.filter((l) => l.msg === 'audio bridge: ffmpeg could not start' && l.streamId === 'cam1').length, 2);
  assert.equal(h.strom.live.bridges.stats().children, 0);
  assert.equal(h.strom.live.bridges.stats().restarts, 1);
});

test('takeover: a publisher already sending the target codec is passed through (child stopped); back to AAC starts a child again', async (t) => {
  const sh = (args: string[]) => spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4', '-ac', '2', ...args, 'pipe:1'], { maxBuffer: 1 << 26 }).stdout;
  const aacFrames = new AdtsParser().push(sh(['-c:a', 'aac', '-f', 'adts']));
  const opusPackets = new OggReader().push(sh(['-c:a', 'libopus', '-f', 'ogg', '-page_duration', '20000'])).flatMap((p) => p.packets);
  const h = await startLive();
  const reg = h.strom.live.registry;
  let timer: NodeJS.Timeout | null = null;
  t.after(async () => {
    if (timer) clearInterval(timer);
    await h.close();
  });
  /** Take the stream over with a publisher of `codec` audio (+ synthetic H.264), paced in real time from the current dts. */
  const publish = (n: number, codec: 'aac' | 'opus') => {
    if (timer) clearInterval(timer);
    const p = { id: `pub${n}`, remote: 'test', close() {} };
    const s = reg.startPublish('cam1', p);
    s.push(videoToUnit(avcConfigBody(), 0)!, 0);
    s.push(codec === 'aac' ? aacConfigUnit(adtsToAsc(aacFrames[0]!.config), 0) : opusConfigUnit(opusPackets[0]!, 0), 0);
    const start = Date.now();
    let i = 0;
    timer = setInterval(() => {
      for (; i * 20 <= Date.now() - start; i++) {
        if (i % 2 === 0) s.push(videoToUnit(avcFrameBody(i % 20 === 0, i, 300), i * 20)!, 300);
        s.push(codec === 'aac' ? aacUnit(aacFrames[i % aacFrames.length]!.frame, i * 20) : opusUnit(opusPackets[2 + (i % (opusPackets.length - 2))]!, i * 20), 100);
      }
    }, 10);
    return s;
  };
  publish(1, 'aac');
  const a = collector();
  reg.addReader('cam1', 'whep', a, { audioCodec: 'opus' });
  const opusUnits = () => a.units.filter((u) => u.kind === 'audio' && !u.config && u.codec === 'opus');
  await until(() => opusUnits().length >= 25, 'transcoded Opus from the AAC publisher');
  const pid1 = h.strom.live.bridges.get('cam1', 'opus')!.pid!;

  const s2 = publish(2, 'opus');
  const pushed = new Set<MediaUnit>();
  const push = s2.push.bind(s2);
  s2.push = (u, n) => {
    pushed.add(u);
    push(u, n);
  };
  await until(() => !processAlive(pid1), 'the child is stopped once the source audio is already Opus');
  const mark = a.units.length;
  await until(() => a.units.slice(mark).filter((u) => pushed.has(u) && u.kind === 'audio').length >= 25, 'the new publisher\'s Opus units are passed through as they are');
  assert.equal(h.strom.live.bridges.get('cam1', 'opus')!.pid, null);
  assert.equal(h.strom.live.bridges.stats().children, 0);

  publish(3, 'aac');
  await until(() => h.strom.live.bridges.get('cam1', 'opus')?.pid != null, 'AAC again: a child starts');
  const mark2 = a.units.length;
  await until(() => a.units.slice(mark2).filter((u) => u.kind === 'audio' && !u.config && u.codec === 'opus').length >= 25, 'transcoded Opus again');
  assert.equal(a.closed, null, 'the viewer stayed through both takeovers');
  assert.equal(reg.status('cam1').viewers.whep, 1);
});
