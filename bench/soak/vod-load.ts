/**
 * The soak's on-demand and API load: a tus upload at a fixed interval that goes through the
 * transcode (one in three aborted mid-way and resumed from the server's offset, one in three
 * cancelled with a tus DELETE, which must remove its video); VOD viewers fetching random byte
 * ranges of random segments of the ready videos; API reads; and SSE subscribers that must stay
 * connected for the whole run.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tus from 'tus-js-client';
import { onSseEvents } from '../../test/helpers/sse.js';
import { between, pause } from './live-load.js';
import type { Tally } from './tally.js';

/** Where the load goes. */
export interface Target {
  url: string;
  token: string;
  tally: Tally;
  stop: AbortSignal;
}

const auth = (t: Target) => ({ Authorization: `Bearer ${t.token}` });

/** The video's status, polled until ready/errored or 5 minutes. */
async function settle(t: Target, id: string): Promise<string> {
  const end = Date.now() + 300_000;
  while (Date.now() < end) {
    const r = await fetch(`${t.url}/api/v1/videos/${id}`, { headers: auth(t) }).catch(() => null);
    const v = r?.status === 200 ? (await r.json()) as { status?: string; error?: unknown } : null;
    if (v?.status === 'ready') return 'ready';
    if (v?.status === 'errored') return `errored ${JSON.stringify(v.error)}`;
    await sleep(1000);
  }
  return 'not ready after 300 s';
}

/** One tus upload of `clip`: kind 0 straight, 1 aborted at the first chunk and resumed, 2 cancelled. */
async function upload(t: Target, clip: Buffer, kind: number, n: number): Promise<string | null> {
  const opts: tus.UploadOptions = {
    endpoint: `${t.url}/api/v1/uploads`, chunkSize: 64 * 1024, retryDelays: [0, 1000, 3000], headers: auth(t),
    metadata: { filename: `soak-${n}.mp4`, title: `soak upload ${n}`, visibility: 'public' },
  };
  const run = (o: tus.UploadOptions, cut: boolean) => new Promise<tus.Upload>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(clip, {
      ...o, onError: reject, onSuccess: () => resolve(up),
      onProgress: (sent) => {
        if (!cut || sent < 64 * 1024) return;
        cut = false;
        void up.abort(kind === 2).then(() => resolve(up), reject);
      },
    });
    up.start();
  });
  const first = await run(opts, kind !== 0);
  const id = first.url!.split('/').pop()!;
  if (kind === 2) {
    const r = await fetch(`${t.url}/api/v1/videos/${id}`, { headers: auth(t) });
    if (r.status !== 404) throw new Error(`cancelled upload ${id}: GET video answered ${r.status}`);
    t.tally.uploads.cancelled++;
    return null;
  }
  if (kind === 1) {
    await pause(1000, t.stop);
    await run({ ...opts, uploadUrl: first.url }, false);
    t.tally.uploads.resumed++;
  }
  const status = await settle(t, id);
  if (status !== 'ready') throw new Error(`upload ${id}: ${status}`);
  t.tally.uploads.ready++;
  return id;
}

/** An upload every `everyS` seconds until stop; ready video ids are pushed to `ready`; resolves when the last one settled. */
export async function uploadLoop(t: Target, clip: Buffer, everyS: number, ready: string[]): Promise<void> {
  const pending: Array<Promise<void>> = [];
  for (let n = 0; !t.stop.aborted; n++) {
    t.tally.uploads.started++;
    pending.push(upload(t, clip, n % 3, n).then((id) => void (id && ready.push(id)), (e: Error) => {
      t.tally.uploads.failed++;
      t.tally.uploads.reasons.push(e.message);
    }));
    await pause(everyS * 1000, t.stop);
  }
  await Promise.all(pending);
}

/** Media URIs of an HLS playlist (segments and the init map), absolute. */
async function mediaOf(url: URL): Promise<URL[]> {
  const text = await (await fetch(url)).text();
  const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
  const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
  return [...uris, ...(map ? [map] : [])].map((u) => new URL(u, url));
}

/** A VOD viewer session: a random ready video's first rendition, random ranges of random segments. */
async function vodSession(t: Target, ready: string[], lifeS: number): Promise<void> {
  const id = ready[Math.floor(Math.random() * ready.length)]!;
  const master = new URL(`/v/${id}/master.m3u8`, t.url);
  const variants = await mediaOf(master);
  const media = (await mediaOf(variants[0]!)).filter((u) => u.pathname.endsWith('.m4s') || u.pathname.endsWith('.mp4'));
  const end = Date.now() + lifeS * 1000;
  while (Date.now() < end && !t.stop.aborted && media.length > 0) {
    const u = media[Math.floor(Math.random() * media.length)]!;
    const start = Math.floor(Math.random() * 512);
    const r = await fetch(u, { headers: { Range: `bytes=${start}-${start + Math.floor(between(1024, 65536))}` } });
    await r.arrayBuffer();
    t.tally.vodRequests++;
    if (r.status !== 206) {
      t.tally.vodFailures++;
      t.tally.unexpected.push({ atS: Math.round(t.tally.seconds()), protocol: 'vod', stream: id, reason: `${u.pathname} → ${r.status}` });
    }
    await pause(between(300, 1500), t.stop);
  }
}

/** `count` VOD viewers, each running sessions of `lifeS` back to back once a video is ready. */
export async function vodViewers(t: Target, ready: string[], count: number, lifeS: [number, number]): Promise<void> {
  await Promise.all(Array.from({ length: count }, async () => {
    while (!t.stop.aborted) {
      if (ready.length === 0) {
        await pause(2000, t.stop);
        continue;
      }
      t.tally.joined('vod');
      await vodSession(t, ready, between(...lifeS)).catch((e: Error) => {
        t.tally.vodFailures++;
        t.tally.unexpected.push({ atS: Math.round(t.tally.seconds()), protocol: 'vod', stream: '-', reason: e.message });
      });
      t.tally.ended('vod', '-', true, 'left');
    }
  }));
}

/** API reads every ~2 s (video list, live stream list, one video) and `sse` event subscribers. */
export async function apiLoad(t: Target, ready: string[], sse: number): Promise<void> {
  const subscriber = async (): Promise<void> => {
    while (!t.stop.aborted) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${t.url}/api/v1/events`, { headers: auth(t) }, (res) => {
          onSseEvents(res, () => t.tally.sseEvents++);
          res.on('close', () => {
            if (!t.stop.aborted) t.tally.sseUnexpectedEnds++;
            resolve();
          });
        });
        req.on('error', () => resolve());
        t.stop.addEventListener('abort', () => req.destroy(), { once: true });
      });
      await pause(2000, t.stop);
    }
  };
  const reads = async (): Promise<void> => {
    while (!t.stop.aborted) {
      const paths = ['/api/v1/videos?limit=20', '/api/v1/live-streams', ...(ready.length ? [`/api/v1/videos/${ready[Math.floor(Math.random() * ready.length)]}`] : [])];
      for (const p of paths) {
        const r = await fetch(`${t.url}${p}`, { headers: auth(t) }).catch(() => null);
        await r?.arrayBuffer();
        t.tally.apiRequests++;
        if (r?.status !== 200) t.tally.apiFailures++;
      }
      await pause(2000, t.stop);
    }
  };
  await Promise.all([reads(), ...Array.from({ length: sse }, subscriber)]);
}
