/**
 * Request coalescing of LL-HLS at the edge tier: N viewers of one live stream on one edge, and how
 * many requests reach the origin per object the viewers asked for.
 *
 *   npx tsx bench/edge/coalescing.ts [--viewers 1000] [--seconds 20] [--tiers strom,nginx]
 *
 * One Strom origin (this process) with ffmpeg publishing a 480p test pattern over RTMP. For each
 * tier in turn — `strom edge` (a child process) and nginx with deploy/cdn/nginx.conf — a counting
 * proxy sits between the tier and the origin and records every request that reaches the origin.
 * The viewers run in this process, each on its own connection, and behave like hls.js in
 * low-latency mode: a blocking playlist request for the next part (`_HLS_msn`/`_HLS_part`, RFC 8216bis
 * §6.2.5.2), then that part, then the next. Over the measured window it prints, per object kind,
 * the origin requests per distinct URL the viewers fetched (parts, blocking playlists), and the
 * viewers' own request count for scale. Target: ≤ 1.05 origin requests per part per rendition.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import pino from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { ffmpegPublish } from '../../test/helpers/live-fixtures.js';
import { startCountingProxy, type CountingProxy } from '../../test/helpers/counting-proxy.js';
import { BENCH_SECRET, benchDir, buildDist, runBench, startNginxCdn, startStromEdge } from './bench-stack.js';

const { values } = parseArgs({ options: {
  viewers: { type: 'string', default: '1000' },
  seconds: { type: 'string', default: '20' },
  tiers: { type: 'string', default: 'strom,nginx' },
} });
const VIEWERS = Number(values.viewers);
const SECONDS = Number(values.seconds);
const STREAM = 'cam1';

/** Next part to ask for, from a playlist: the preload hint's (msn, part index). */
function nextPart(text: string): { msn: number; part: number; uri: string } | null {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const lines = text.split('\n');
  let segs = 0;
  let partsSince = 0;
  for (const l of lines) {
    if (l.startsWith('#EXTINF')) {
      segs++;
      partsSince = 0;
    }
    else if (l.startsWith('#EXT-X-PART:')) partsSince++;
  }
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text);
  if (hint === null) return null;
  return { msn: seq + segs, part: partsSince, uri: hint[1]! };
}

/** `key → time the part's bytes were complete` for a probe viewer (null for the rest). */
type Arrivals = Map<string, number> | null;

async function viewer(base: string, agent: Agent, stopAt: number, counts: { requests: number; errors: number }, arrivals: Arrivals = null): Promise<void> {
  const get = async (p: string) => {
    counts.requests++;
    const r = await request(`${base}${p}`, { dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000 });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${p}: ${r.statusCode}`);
    return text;
  };
  let next = nextPart(await get(`/live/${STREAM}/index.m3u8`));
  while (Date.now() < stopAt && next !== null) {
    try {
      const pl = await get(`/live/${STREAM}/index.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
      await get(`/live/${STREAM}/${next.uri}`);
      arrivals?.set(next.uri, performance.now());
      next = nextPart(pl) ?? next;
    } catch {
      counts.errors++;
      await sleep(200);
      next = nextPart(await get(`/live/${STREAM}/index.m3u8`).catch(() => '')) ?? next;
    }
  }
}

async function measure(tier: string, proxy: CountingProxy, originUrl: string): Promise<string> {
  const front = tier === 'strom' ? await startStromEdge(`http://127.0.0.1:${proxy.port}`) : await startNginxCdn(proxy.port, 8192);
  const base = front.url;
  const agents = Array.from({ length: VIEWERS }, () => new Agent({ connections: 1, keepAliveTimeout: 30_000 }));
  const counts = { requests: 0, errors: 0 };
  const warmEnd = Date.now() + 5_000;
  const stopAt = warmEnd + SECONDS * 1000;
  const running = agents.map((a, i) => sleep((i % 100) * 10).then(() => viewer(base, a, stopAt, counts)));
  // Added latency: one probe through the tier and one straight to the origin, same parts, same clock.
  const probes = [new Agent({ connections: 1 }), new Agent({ connections: 1 })];
  const viaTier = new Map<string, number>();
  const direct = new Map<string, number>();
  const dummy = { requests: 0, errors: 0 };
  running.push(viewer(base, probes[0]!, stopAt, dummy, viaTier), viewer(originUrl, probes[1]!, stopAt, dummy, direct));
  await sleep(warmEnd - Date.now());
  const before = proxy.requests.length;
  const viewerBefore = counts.requests;
  await Promise.all(running);
  const seen = proxy.requests.slice(before).filter((r) => r.target.startsWith(`/live/${STREAM}/`));
  const parts = seen.filter((r) => /\/part_[^/]+\.m4s$/.test(r.target));
  const blocking = seen.filter((r) => r.target.includes('_HLS_msn='));
  const distinct = (xs: typeof seen) => new Set(xs.map((r) => r.target)).size;
  await Promise.all([...agents, ...probes].map((a) => a.close()));
  const added = [...viaTier].filter(([k]) => direct.has(k)).map(([k, t]) => t - direct.get(k)!).sort((a, b) => a - b);
  const q = (p: number) => added[Math.min(added.length - 1, Math.floor(p * added.length))] ?? NaN;
  front.stop();
  return `${tier.padEnd(6)} viewers ${VIEWERS}: viewer requests ${counts.requests - viewerBefore} (errors ${counts.errors}); origin saw ${parts.length} part requests for ${distinct(parts)} parts = ${(parts.length / Math.max(1, distinct(parts))).toFixed(3)} per part, ${blocking.length} blocking playlist requests for ${distinct(blocking)} distinct = ${(blocking.length / Math.max(1, distinct(blocking))).toFixed(3)} per playlist; part arrival through the tier vs direct over ${added.length} parts: +${q(0.5).toFixed(1)} ms p50, +${q(0.99).toFixed(1)} ms p99`;
}

async function main(): Promise<void> {
  buildDist();
  const dataDir = benchDir('strom-bench-coalesce-');
  const origin = await buildStrom(testConfig({ dataDir, 'cluster.secret': BENCH_SECRET, 'live.staticKeys': `${STREAM}:secret`, 'rateLimit.media.perMinute': 0, 'delivery.earlyHints': false, 'llhls.maxHeldRequests': 100_000, logLevel: 'warn' }), pino({ level: 'warn' }));
  const { port, url: originUrl } = await origin.listen();
  const pub = ffmpegPublish(origin.live.rtmp.port()!, 'secret', 3600);
  for (let i = 0; i < 100 && !origin.live.registry.get(STREAM)?.active; i++) await sleep(100);
  await sleep(3_000); // a few parts exist
  const lines: string[] = [];
  for (const tier of values.tiers.split(',')) {
    const proxy = await startCountingProxy(port);
    lines.push(await measure(tier, proxy, originUrl));
    console.error(lines.at(-1));
    await proxy.close();
  }
  console.log(`\nLL-HLS coalescing, ${VIEWERS} viewers of one stream on one edge, ${SECONDS} s measured after 5 s of warm-up`);
  for (const l of lines) console.log(l);
  pub.child.kill('SIGKILL');
  await origin.close();
}

runBench(main);
