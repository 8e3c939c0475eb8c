/** Shared fixtures for the live tests: a Strom with captured logs, synthetic FLV bodies, FLV readers, ffmpeg. */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { FlvDemuxer, type FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { launchBrowser } from './browser.js';

/** A listening Strom with its RTMP port and captured JSON log lines. */
export interface LiveHarness {
  strom: Strom;
  rtmpPort: number;
  httpUrl: string;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Build and listen a Strom with `cam1:secret` publishable (plus overrides). */
export async function startLive(overrides: RawSettings = {}): Promise<LiveHarness> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-live-'));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const strom = await buildStrom(testConfig({ dataDir, 'live.staticKeys': 'cam1:secret,cam2:other', ...overrides }), log);
  const { url } = await strom.listen();
  return {
    strom, logs, httpUrl: url, rtmpPort: strom.live.rtmp.port()!,
    async close() {
      await strom.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An AVC sequence header body (FLV VIDEODATA, AVCPacketType 0) with a plausible config record. */
export function avcConfigBody(): Buffer {
  return Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee]);
}

/** An AVC NALU body of `size` payload bytes; byte 5.. carry `seq` so frames are distinguishable. */
export function avcFrameBody(key: boolean, seq: number, size = 200): Buffer {
  const b = Buffer.alloc(5 + size, 0x11);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  b.writeUInt32BE(seq, 5);
  return b;
}

/** FLV VIDEODATA of one AVC access unit: a single NAL (IDR or non-IDR slice) of `size` bytes, length-prefixed. */
export function avcNaluBody(key: boolean, size: number): Buffer {
  const b = Buffer.alloc(9 + size, 0x22);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1; // AVC NALU
  b.writeUInt32BE(size, 5); // 4-byte NAL length (the config record's lengthSizeMinusOne = 3)
  b[9] = key ? 0x65 : 0x41;
  return b;
}

/** AAC AudioSpecificConfig body (LC, 44.1 kHz, stereo). */
export function aacConfigBody(): Buffer {
  return Buffer.from([0xaf, 0, 0x12, 0x10]);
}

/** A raw AAC frame body. */
export function aacFrameBody(size = 50): Buffer {
  const b = Buffer.alloc(2 + size, 0x22);
  b[0] = 0xaf;
  b[1] = 1;
  return b;
}

/** Connect and publish with our own client; sends metadata and sequence headers. */
export async function syntheticPublisher(port: number, key = 'secret'): Promise<RtmpClient> {
  const c = await RtmpClient.connect('127.0.0.1', port, 'live');
  const code = await c.publish(key);
  if (code !== 'NetStream.Publish.Start') throw new Error(`publish failed: ${code}`);
  c.sendMetadata({ width: 640, height: 360, framerate: 25 });
  c.send(9, 0, avcConfigBody());
  c.send(8, 0, aacConfigBody());
  return c;
}

/** A Strom with `overrides` and our own client publishing cam1 video only (sequence header sent), both closed after the test. */
export async function startVideoOnlyLive(t: TestContext, overrides: RawSettings = {}): Promise<{ h: LiveHarness; pub: RtmpClient }> {
  const h = await startLive(overrides);
  const pub = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  t.after(async () => {
    pub.destroy();
    await h.close();
  });
  assert.equal(await pub.publish('secret'), 'NetStream.Publish.Start');
  pub.send(9, 0, avcConfigBody()); // video only: no audio bridge involved
  return { h, pub };
}

/** An HTTP-FLV reader collecting demuxed tags. */
export interface FlvViewer {
  tags: FlvTag[];
  req: http.ClientRequest;
  res: Promise<http.IncomingMessage>;
  ended: Promise<void>;
  /** Resolve once `n` tags have arrived (rejects after `ms`). */
  waitTags(n: number, ms?: number): Promise<void>;
}

/** Open `GET url` and demux the FLV body as it arrives. */
export function flvViewer(url: string): FlvViewer {
  const tags: FlvTag[] = [];
  const demux = new FlvDemuxer();
  const waiters: Array<() => void> = [];
  let endResolve!: () => void;
  const ended = new Promise<void>((r) => (endResolve = r));
  const req = http.get(url);
  const res = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', (r) => {
      resolve(r);
      r.on('data', (d: Buffer) => {
        tags.push(...demux.push(d));
        for (const w of waiters.splice(0)) w();
      });
      r.on('end', endResolve);
      r.on('close', endResolve);
    });
    req.on('error', (e) => {
      reject(e);
      endResolve();
    });
  });
  return {
    tags, req, res, ended,
    waitTags(n, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${tags.length} of ${n} tags after ${ms} ms`)), ms);
        const check = () => {
          if (tags.length >= n) {
            clearTimeout(t);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Run ffmpeg/ffprobe; resolves with exit code and output. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

/** ffmpeg publishing a test pattern (H.264 + AAC) to rtmp://127.0.0.1:port/live/key for `seconds`. */
export function ffmpegPublish(port: number, key: string, seconds: number, extra: string[] = []) {
  return run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', String(seconds), ...extra, '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`], (seconds + 20) * 1000);
}

/** Send synthetic 20 fps frames `from..to` (keyframe every 10th, 300-byte video, 40-byte AAC) with their audio. */
export function sendFrames(c: RtmpClient, from: number, to: number): void {
  for (let i = from; i <= to; i++) {
    c.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 300));
    c.send(8, i * 50, aacFrameBody(40));
  }
}

/** Poll `cond` every 25 ms for up to `ms` (5 s), then assert it with `what`. */
export async function waitUntil(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  assert.ok(cond(), what);
}

/** A Strom with ffmpeg publishing `cam1` for `seconds` and a Chromium, all cleaned up after `t`. */
export async function startPublishedLive(t: TestContext, overrides: RawSettings, seconds = 40) {
  const h = await startLive(overrides);
  const pub = ffmpegPublish(h.rtmpPort, 'secret', seconds);
  const browser = await launchBrowser();
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser.close();
    await h.close();
  });
  for (let i = 0; i < 100 && !h.strom.live.registry.get('cam1')?.active; i++) await sleep(100);
  assert.ok(h.strom.live.registry.get('cam1')?.active, 'ffmpeg is publishing');
  return { h, pub, browser };
}

/** True while a process with this pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
