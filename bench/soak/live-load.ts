/**
 * The soak's live load: RTMP publishers (ffmpeg, a small 320x240 test pattern so two cores
 * survive) and an optional WHIP publisher (headless Chromium, canvas video) that each stay up a
 * few minutes, disconnect on purpose and come back; and pools of viewers that join a live stream,
 * watch for a random while, leave and join again, so viewers come and go all the time. Every
 * loop is bounded by the soak's stop signal.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { launchWebRtcBrowser, webrtcPage } from '../../test/helpers/webrtc.js';
import type { Protocol, Tally } from './tally.js';
import type { Viewer } from './live-viewers.js';

/** Random number in [a, b). */
export const between = (a: number, b: number): number => a + Math.random() * (b - a);

/** Resolves after `ms` or when `stop` aborts, whichever is first. */
export function pause(ms: number, stop: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal: stop }).catch(() => undefined);
}

/** How long a publisher stays up between planned disconnects, in seconds. */
export interface PublishCycle {
  upS: [number, number];
  downS: number;
}

/** ffmpeg publishing `key` to Strom's RTMP port, restarted after each planned disconnect. */
export async function rtmpPublisher(rtmpPort: number, stream: string, key: string, cycle: PublishCycle, tally: Tally, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
      '-g', '30', '-b:v', '250k', '-c:a', 'aac', '-b:a', '48k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ff.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-500)));
    const exited = new Promise<void>((r) => ff.once('exit', () => r()));
    tally.setStream(stream, true);
    const planned = await Promise.race([pause(between(...cycle.upS) * 1000, stop).then(() => true), exited.then(() => false)]);
    tally.setStream(stream, false);
    if (!planned) {
      tally.publisherFailures++;
      process.stderr.write(`publisher ${stream} exited on its own: ${err}\n`);
    }
    ff.kill('SIGKILL');
    await exited;
    await pause(cycle.downS * 1000, stop);
    if (!stop.aborted) tally.publisherReconnects++;
  }
}

/** A WHIP publisher in headless Chromium (video only), re-published after each planned disconnect. */
export async function whipPublisher(base: string, stream: string, key: string, cycle: PublishCycle, tally: Tally, stop: AbortSignal): Promise<void> {
  let browser: Browser | null = null;
  try {
    browser = await launchWebRtcBrowser();
    while (!stop.aborted) {
      const p = await webrtcPage(browser);
      try {
        await p.page.evaluate(([u, k]) => (window as unknown as { whipPublish(u: string, k: string, o: object): Promise<unknown> }).whipPublish(u!, k!, { audio: false }), [`${base}/whip`, key]);
        tally.setStream(stream, true);
        await pause(between(...cycle.upS) * 1000, stop);
      } catch (e) {
        tally.publisherFailures++;
        process.stderr.write(`WHIP publish failed: ${(e as Error).message}\n`);
      }
      tally.setStream(stream, false);
      await p.close();
      await pause(cycle.downS * 1000, stop);
      if (!stop.aborted) tally.publisherReconnects++;
    }
  } finally {
    await browser?.close();
  }
}

/** A pool of `count` viewers of `protocol`, each joining a live stream, staying `lifeS`, leaving and joining again. */
export async function viewerPool(o: {
  base: URL; protocol: Protocol; viewer: Viewer; count: number; streams: string[]; lifeS: [number, number]; rampS: number; tally: Tally; stop: AbortSignal;
}): Promise<void> {
  const slot = async (i: number): Promise<void> => {
    await pause((o.rampS * 1000 * i) / Math.max(1, o.count), o.stop);
    while (!o.stop.aborted) {
      const ready = o.streams.filter((s) => o.tally.joinable(s));
      if (ready.length === 0) {
        await pause(1000, o.stop);
        continue;
      }
      const stream = ready[Math.floor(Math.random() * ready.length)]!;
      const leave = new AbortController();
      const onStop = (): void => leave.abort();
      o.stop.addEventListener('abort', onStop, { once: true });
      const timer = setTimeout(() => leave.abort(), between(...o.lifeS) * 1000);
      o.tally.joined(o.protocol);
      const why = await o.viewer(o.base, stream, leave.signal);
      clearTimeout(timer);
      o.stop.removeEventListener('abort', onStop);
      o.tally.ended(o.protocol, stream, why === 'left', why);
      await pause(between(200, 2000), o.stop);
    }
  };
  await Promise.all(Array.from({ length: o.count }, (_, i) => slot(i)));
}
