/**
 * SRT against libsrt, the reference implementation: ffmpeg (built with libsrt) and srt-live-transmit
 * publish to Strom and read from it, clear and encrypted, through packet loss, and are refused
 * with the right reason. What comes out is checked with ffprobe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUdpRelay, srtDataOnly } from '../../bench/netem/udp-relay.js';
import { ffmpegPublish, run, startLive, waitUntil, type LiveHarness } from '../helpers/live-fixtures.js';
import { startApi } from '../helpers/api-server.js';

interface Packet { codec_type: string; dts_time: string; flags: string }

const SOURCE = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac'];

function srtUrl(port: number, params: Record<string, string>): string {
  return `srt://127.0.0.1:${port}?${Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** ffmpeg publishing the test pattern as MPEG-TS over SRT. */
function srtPublish(port: number, params: Record<string, string>, seconds: number) {
  return run('ffmpeg', [...SOURCE, '-t', String(seconds), '-f', 'mpegts', srtUrl(port, params)], (seconds + 20) * 1000);
}

async function packets(file: string): Promise<Packet[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time,flags', '-of', 'json', file]).done;
  return (JSON.parse(stdout) as { packets?: Packet[] }).packets ?? [];
}

function assertPlayable(pkts: Packet[], minSeconds: number): void {
  const video = pkts.filter((p) => p.codec_type === 'video');
  const audio = pkts.filter((p) => p.codec_type === 'audio');
  assert.ok(video.length >= minSeconds * 25 * 0.9, `video packets: ${video.length}`);
  assert.ok(audio.length > minSeconds * 20, `audio packets: ${audio.length}`);
  assert.equal(video[0]!.flags[0], 'K', 'starts at a keyframe');
  const dts = video.map((p) => Number(p.dts_time));
  for (let i = 1; i < dts.length; i++) assert.ok(dts[i]! > dts[i - 1]! && dts[i]! - dts[i - 1]! < 0.1, `video dts step ${dts[i - 1]} → ${dts[i]}`);
}

function logsOf(h: LiveHarness, msg: string): Array<Record<string, unknown>> {
  return h.logs.filter((l) => l.msg === msg);
}

async function startSrt(overrides: Record<string, string> = {}) {
  const h = await startLive({ 'srt.enabled': 'true', ...overrides });
  const tmp = mkdtempSync(path.join(tmpdir(), 'strom-srt-'));
  return { h, tmp, port: h.strom.live.srt!.port()!, close: async () => { await h.close(); rmSync(tmp, { recursive: true, force: true }); } };
}

test('ffmpeg publishes over SRT (access-control stream id); HTTP-FLV, RTMP, LL-HLS and an SRT reader (ffmpeg) play it', async (t) => {
  const s = await startSrt();
  t.after(() => s.close());
  const started = s.h.strom.live.events.next('publish.start');
  const pub = srtPublish(s.port, { streamid: '#!::r=secret,m=publish' }, 10);
  t.after(() => pub.child.kill('SIGKILL'));
  assert.equal((await started).streamId, 'cam1');
  await sleep(1500);
  const out = path.join(s.tmp, 'srt.ts');
  const flv = path.join(s.tmp, 'http.flv');
  const viaSrt = run('ffmpeg', ['-v', 'error', '-i', srtUrl(s.port, { streamid: '#!::r=cam1,m=request' }), '-t', '3', '-c', 'copy', '-y', out]);
  const viaFlv = run('ffmpeg', ['-v', 'error', '-i', `${s.h.httpUrl}/live/cam1.flv`, '-t', '3', '-c', 'copy', '-y', flv]);
  const viaRtmp = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `rtmp://127.0.0.1:${s.h.rtmpPort}/live/cam1`], 15_000).done;
  assert.deepEqual(viaRtmp.stdout.trim().split('\n').sort(), ['aac', 'h264']);
  const viaHls = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${s.h.httpUrl}/live/cam1/index.m3u8`], 20_000).done;
  assert.deepEqual([...new Set(viaHls.stdout.trim().split('\n').filter(Boolean))].sort(), ['aac', 'h264'], `LL-HLS: ${viaHls.stderr}`);
  await waitUntil(() => s.h.strom.live.status('cam1').viewers.srt === 1, 'the SRT reader is counted', 10_000);
  const status = s.h.strom.live.status('cam1');
  assert.equal(status.state, 'active');
  assert.match(status.publisher!.sessionId, /^srt/);
  assert.equal(status.viewers.srt, 1);
  for (const [r, file] of [[viaSrt, out], [viaFlv, flv]] as const) {
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    assertPlayable(await packets(file), 2.5);
  }
  const stopped = s.h.strom.live.events.next('publish.stop');
  await pub.done;
  assert.equal((await stopped).streamId, 'cam1');
  const ended = logsOf(s.h, 'srt publish ended')[0]!;
  assert.equal(ended.ccErrors, 0);
  assert.equal(ended.reason, 'peer shut the connection down');
});

test('srt-live-transmit: publishes (publish:<key>) and reads an RTMP-published stream (read:<id>) as MPEG-TS', async (t) => {
  const s = await startSrt();
  t.after(() => s.close());
  // caller publishing: ffmpeg writes TS to stdout, srt-live-transmit sends it
  const started = s.h.strom.live.events.next('publish.start');
  const source = spawn('ffmpeg', [...SOURCE, '-t', '8', '-f', 'mpegts', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const sender = spawn('srt-live-transmit', ['-q', 'file://con', srtUrl(s.port, { streamid: 'publish:other' })], { stdio: ['pipe', 'ignore', 'ignore'] });
  source.stdout.pipe(sender.stdin);
  sender.stdin.on('error', () => {});
  t.after(() => {
    source.kill('SIGKILL');
    sender.kill('SIGKILL');
  });
  assert.equal((await started).streamId, 'cam2');
  // RTMP publisher of cam1, read back over SRT by srt-live-transmit
  const rtmp = ffmpegPublish(s.h.rtmpPort, 'secret', 10);
  t.after(() => rtmp.child.kill('SIGKILL'));
  await waitUntil(() => s.h.strom.live.status('cam1').state === 'active', 'cam1 live over RTMP', 10_000);
  await sleep(1000);
  const out = path.join(s.tmp, 'slt.ts');
  const fd = openSync(out, 'w');
  const reader = spawn('srt-live-transmit', ['-q', srtUrl(s.port, { streamid: 'read:cam1' }), 'file://con'], { stdio: ['ignore', fd, 'ignore'] });
  t.after(() => reader.kill('SIGKILL'));
  await sleep(4000);
  const exited = new Promise((resolve) => reader.once('exit', resolve));
  reader.kill('SIGINT');
  await exited;
  closeSync(fd);
  assert.ok(statSync(out).size > 50_000, `${statSync(out).size} bytes read`);
  assertPlayable(await packets(out), 2.5);
  // and the SRT-published cam2 reaches HTTP-FLV
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${s.h.httpUrl}/live/cam2.flv`], 15_000).done;
  assert.deepEqual(probe.stdout.trim().split('\n').sort(), ['aac', 'h264']);
});

test('encryption: AES-128 and AES-256 publish with srt.passphrase; a wrong or missing passphrase is refused with its reason', async (t) => {
  const s = await startSrt({ 'srt.passphrase': 'strom-test-passphrase' });
  t.after(() => s.close());
  for (const keylen of ['16', '32']) {
    const started = s.h.strom.live.events.next('publish.start');
    const pub = srtPublish(s.port, { streamid: 'secret', passphrase: 'strom-test-passphrase', pbkeylen: keylen }, 4);
    t.after(() => pub.child.kill('SIGKILL'));
    await started;
    await sleep(1500);
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${s.h.httpUrl}/live/cam1.flv`], 15_000).done;
    assert.deepEqual(probe.stdout.trim().split('\n').sort(), ['aac', 'h264'], `pbkeylen ${keylen}`);
    assert.equal((await pub.done).code, 0);
    await waitUntil(() => s.h.strom.live.status('cam1').state === 'idle', 'publisher gone');
  }
  const bad = await srtPublish(s.port, { streamid: 'secret', passphrase: 'not-the-passphrase' }, 2).done;
  assert.notEqual(bad.code, 0);
  const none = await srtPublish(s.port, { streamid: 'secret' }, 2).done;
  assert.notEqual(none.code, 0);
  const refused = logsOf(s.h, 'srt caller refused').map((l) => [l.code, l.reason]);
  assert.deepEqual(refused, [[1010, 'wrong passphrase'], [1011, 'this stream requires encryption (set a passphrase)']]);
  assert.equal(logsOf(s.h, 'srt publish ended').length, 2, 'only the two good publishers got a session');
});

test('refusals: unknown key 1403, a stream that is not live 1404, no stream id 1400 — each logged, no session', async (t) => {
  const s = await startSrt();
  t.after(() => s.close());
  const unknown = await srtPublish(s.port, { streamid: '#!::r=nokey,m=publish' }, 1).done;
  assert.notEqual(unknown.code, 0);
  const notLive = await run('ffmpeg', ['-v', 'error', '-i', srtUrl(s.port, { streamid: 'read:cam1' }), '-t', '1', '-f', 'null', '-'], 15_000).done;
  assert.notEqual(notLive.code, 0);
  const noId = await srtPublish(s.port, {}, 1).done;
  assert.notEqual(noId.code, 0);
  assert.deepEqual(logsOf(s.h, 'srt caller refused').map((l) => l.code), [1403, 1404, 1400]);
  assert.equal(s.h.strom.live.srt!.connections(), 0);
  assert.equal(s.h.strom.live.status('cam1').state, 'idle');
});

test('2 % data-packet loss between ffmpeg and Strom at a 120 ms window: every packet recovered, the TS arrives whole', async (t) => {
  const s = await startSrt();
  t.after(() => s.close());
  const relay = await startUdpRelay({ targetHost: '127.0.0.1', targetPort: s.port, up: { loss: 0.02 }, seed: 3, droppable: srtDataOnly });
  t.after(() => relay.close());
  const started = s.h.strom.live.events.next('publish.start');
  const pub = run('ffmpeg', [...SOURCE, '-b:v', '1500k', '-t', '8', '-f', 'mpegts', srtUrl(relay.port, { streamid: 'secret', latency: '120000' })], 40_000);
  t.after(() => pub.child.kill('SIGKILL'));
  await started;
  const res = await pub.done;
  assert.equal(res.code, 0, res.stderr);
  await waitUntil(() => logsOf(s.h, 'srt publish ended').length === 1, 'publish ended');
  const ended = logsOf(s.h, 'srt publish ended')[0]!;
  assert.ok(relay.stats.up.dropped >= 10, `relay dropped ${relay.stats.up.dropped} data packets`);
  assert.ok(Number(ended.recovered) >= relay.stats.up.dropped * 0.8, `recovered ${String(ended.recovered)} of ${relay.stats.up.dropped} dropped`);
  assert.equal(ended.dropped, 0, 'nothing given up');
  assert.equal(ended.ccErrors, 0, 'the TS is continuous');
  const metrics = await (await fetch(`${s.h.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_srt_packets_total\{result="lost"\} 0/);
  assert.match(metrics, /strom_srt_handshakes_total\{result="accepted"\} 1/);
});

test('API: SRT ingest and playback URLs with the bound port; a per-stream passphrase (write-only) is what ffmpeg must use', async (t) => {
  const s = await startApi(t, { 'srt.enabled': true, 'srt.port': 0 });
  const token = await s.token(['live:write']);
  const bad = await s.call('POST', '/api/v1/live-streams', { token, json: { title: 'x', srtPassphrase: 'short' } });
  assert.equal(bad.status, 400);
  const res = await s.call('POST', '/api/v1/live-streams', { token, json: { title: 'enc', srtPassphrase: 'per-stream-secret' } });
  assert.equal(res.status, 201);
  const created = (await res.json()) as { id: string; streamKey: string; srtEncrypted: boolean; ingest: { srt: string }; playback: { srt: string } };
  const port = s.strom.live.srt!.port()!;
  assert.equal(created.ingest.srt, `srt://127.0.0.1:${port}?streamid=#!::r=${created.streamKey},m=publish`);
  assert.equal(created.playback.srt, `srt://127.0.0.1:${port}?streamid=#!::r=${created.id},m=request`);
  assert.equal(created.srtEncrypted, true);
  assert.ok(!JSON.stringify(created).includes('per-stream-secret'), 'the passphrase is never answered');
  const refused = await srtPublish(port, { streamid: `#!::r=${created.streamKey},m=publish` }, 1).done;
  assert.notEqual(refused.code, 0, 'no passphrase: refused');
  const started = s.strom.live.events.next('publish.start');
  const pub = run('ffmpeg', [...SOURCE, '-t', '5', '-f', 'mpegts', `${created.ingest.srt}&passphrase=per-stream-secret`], 30_000);
  t.after(() => pub.child.kill('SIGKILL'));
  assert.equal((await started).streamId, created.id);
  await sleep(1000);
  const read = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${created.playback.srt}&passphrase=per-stream-secret`], 15_000).done;
  // a TS has a program: ffprobe lists its streams under it too
  assert.deepEqual([...new Set(read.stdout.trim().split('\n').filter(Boolean))].sort(), ['aac', 'h264'], read.stderr);
  const patched = (await (await s.call('PATCH', `/api/v1/live-streams/${created.id}`, { token, json: { srtPassphrase: null } })).json()) as { srtEncrypted: boolean };
  assert.equal(patched.srtEncrypted, false);
});
