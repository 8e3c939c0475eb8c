/**
 * The Strom origin that the CDN tests put an edge (nginx, Varnish) in front of: one process-local
 * Strom with a VOD asset made by the real pipeline (processVideo), a 3 MiB progressive MP4 for
 * slicing, and a live stream that ffmpeg publishes over RTMP; a counting proxy sits between the
 * edge and Strom and records every request the edge sends. The settings are the ones docs/CDN.md
 * gives an origin behind a CDN.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { processVideo } from '../../src/vod/process-video.js';
import { startCountingProxy, type CountingProxy } from './counting-proxy.js';
import { request } from './http-client.js';
import { ffmpegPublish } from './live-fixtures.js';
import { parseLl } from './ll-hls.js';
import { makeClip, vodTestConfig } from './vod-fixtures.js';

/** Settings of an origin behind a CDN (docs/CDN.md "The origin"), plus short lifetimes for the tests. */
export const CDN_ORIGIN_SETTINGS: RawSettings = {
  // Behind an edge every request comes from the edge's address: no per-IP media limit.
  'rateLimit.media.perMinute': 0,
  // nginx 1.22 and Varnish 7.1 take an HTTP/1.1 103 for the final response.
  'delivery.earlyHints': false,
  // VOD playlists expire after 1 s, so revalidation and stale serving can be seen in a test.
  'delivery.playlistMaxAgeS': 1,
  'llhls.segmentTargetMs': 1000,
  'llhls.partTargetMs': 500,
  // Every media response in the access log, with its status (304s included).
  'log.accessMediaEvery': 1,
};

/** The VOD asset, the progressive-only asset and the live stream the origin serves. */
export const VOD_ID = 'cdn1';
export const BIG_ID = 'big1';
export const LIVE_ID = 'cam1';

/** A running origin. */
export interface CdnOrigin {
  strom: Strom;
  /** Strom's own URL, bypassing proxy and edge. */
  url: string;
  /** Where an edge is pointed: the counting proxy in front of Strom. */
  proxy: CountingProxy;
  dataDir: string;
  /** The 3 MiB body of /v/big1/download.mp4. */
  big: Buffer;
  /** Strom's JSON log lines (access lines carry path and status). */
  logs: Array<Record<string, unknown>>;
  /** Stop the publisher and Strom: the edge's origin is gone (the proxy answers with resets). */
  stopStrom(): Promise<void>;
  close(): Promise<void>;
}

/** Build the origin (CDN_ORIGIN_SETTINGS with `overrides`); the live stream is publishing when this resolves. */
export async function startCdnOrigin(overrides: RawSettings = {}): Promise<CdnOrigin> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-cdn-origin-'));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const strom = await buildStrom(testConfig({ dataDir, 'live.staticKeys': `${LIVE_ID}:secret`, ...CDN_ORIGIN_SETTINGS, ...overrides }), pino({ level: 'info' }, sink));
  const source = await makeClip(path.join(dataDir, 'source.mp4'), { width: 480, height: 270, seconds: 5 });
  await processVideo({ source, assetsDir: path.join(dataDir, 'assets'), tmpDir: path.join(dataDir, 'tmp'), assetId: VOD_ID, config: vodTestConfig({ 'vod.ladder': '240:300,144:150' }) });
  // Random bytes: the delivery origin serves any file with a known extension, and a 3 MiB body
  // spans three 1 MiB slices.
  const big = randomBytes(3 * 1024 * 1024);
  mkdirSync(path.join(dataDir, 'assets', BIG_ID));
  writeFileSync(path.join(dataDir, 'assets', BIG_ID, 'download.mp4'), big);
  const { url } = await strom.listen();
  const proxy = await startCountingProxy(Number(new URL(url).port));
  const pub = ffmpegPublish(strom.live.rtmp.port()!, 'secret', 170);
  for (let i = 0; i < 100 && !strom.live.registry.get(LIVE_ID)?.active; i++) await sleep(100);
  if (!strom.live.registry.get(LIVE_ID)?.active) throw new Error('ffmpeg did not start publishing');
  let stopped = false;
  const stopStrom = async () => {
    if (stopped) return;
    stopped = true;
    pub.child.kill('SIGKILL');
    await strom.close();
  };
  return {
    strom, url, proxy, dataDir, big, logs, stopStrom,
    async close() {
      await stopStrom();
      await proxy.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A blocking playlist URL (path and query) for a part the live stream has not published yet: the
 * first part of the segment after the one in progress, read from a fresh playlist at `base`.
 */
export async function unpublishedPart(base: string): Promise<{ target: string; msn: number }> {
  const r = await request(`${base}/live/${LIVE_ID}/index.m3u8`);
  if (r.status !== 200) throw new Error(`live playlist: ${r.status} ${r.body.toString()}`);
  const m = parseLl(r.body.toString());
  const inProgress = (m.mediaSequence ?? 0) + m.segments.length;
  const msn = inProgress + 1;
  return { target: `/live/${LIVE_ID}/index.m3u8?_HLS_msn=${msn}&_HLS_part=0`, msn };
}

/** Path of a part of a complete segment of the live stream, from the origin's current playlist. */
export async function completePart(base: string): Promise<string> {
  const r = await request(`${base}/live/${LIVE_ID}/index.m3u8`);
  if (r.status !== 200) throw new Error(`live playlist: ${r.status} ${r.body.toString()}`);
  const part = parseLl(r.body.toString()).segments.flatMap((s) => s.parts ?? []).at(-1);
  if (part === undefined) throw new Error('no complete part listed');
  return `/live/${LIVE_ID}/${part.uri}`;
}

/** Media access lines of `path` with `status` in the origin's log. */
export function originResponses(logs: Array<Record<string, unknown>>, urlPath: string, status: number): number {
  return logs.filter((l) => l.msg === 'access' && l.path === urlPath && l.status === status).length;
}

/** Path of a VOD segment of the test asset that none of `played` (URLs a player loaded) names. */
export function unplayedSegment(origin: CdnOrigin, played: string[]): string {
  const root = path.join(origin.dataDir, 'assets', VOD_ID);
  for (const rung of readdirSync(root).filter((d) => /^[va]\d+$/.test(d))) {
    const name = readdirSync(path.join(root, rung)).find((f) => f.startsWith('seg_') && !played.some((u) => u.endsWith(`/${VOD_ID}/${rung}/${f}`)));
    if (name !== undefined) return `/v/${VOD_ID}/${rung}/${name}`;
  }
  throw new Error('every segment of the test asset was played');
}
