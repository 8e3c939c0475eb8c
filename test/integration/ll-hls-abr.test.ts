/**
 * Live ABR: ffmpeg publishes 640x360 H.264 + AAC; Strom transcodes 240p and 180p with one
 * ffmpeg child. Proves: the master lists the source and both renditions with RESOLUTION, CODECS,
 * FRAME-RATE; every media playlist is LL-conformant; renditions are aligned with the source (same
 * media sequence numbers, same part count per segment, same durations ±1 frame); each playlist
 * reports the OTHER renditions (EXT-X-RENDITION-REPORT) with plausible LAST-MSN/LAST-PART; ffprobe
 * sees the expected resolutions; each rendition's media URLs carry its own muxer's run id, and a
 * killed child is restarted (renditions absent from the master meanwhile) with new run ids, the
 * old URLs answering 404; the child is gone once the stream stops. Over
 * `live.abrMaxStreams` the stream stays passthrough with a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, startLive, syntheticPublisher, sendFrames, waitUntil, processAlive } from '../helpers/live-fixtures.js';
import { allParts, assertLlConformant, parseLl, type LlManifest } from '../helpers/ll-hls.js';

const FRAME_S = 0.04;

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, `${url}: ${r.status} ${r.status === 200 ? '' : await r.text()}`);
  return r.text();
}


/** Segments by msn with their part durations (complete segments only). */
function bySeq(m: LlManifest): Map<number, { duration: number; parts: number[] }> {
  const out = new Map<number, { duration: number; parts: number[] }>();
  m.segments.forEach((s, i) => out.set((m.mediaSequence ?? 0) + i, { duration: s.duration, parts: (s.parts ?? []).map((p) => p.duration) }));
  return out;
}

test('live ABR: aligned renditions, master variants, rendition reports, ffprobe sizes, child killed at stream end', { timeout: 120_000 }, async (t) => {
  const h = await startLive({ 'live.abrAll': true, 'live.abrLadder': '240p,180p', 'live.abrPreset': 'ultrafast', 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const pub = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', '40', '-f', 'flv', `rtmp://127.0.0.1:${h.rtmpPort}/live/secret`], 60_000);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await h.close();
  });
  for (let i = 0; i < 150 && !h.strom.live.registry.get('cam1')?.active; i++) await sleep(100);
  const base = `${h.httpUrl}/live/cam1`;

  // The first request starts the source muxer and the transcode; renditions appear once they have a segment.
  await sleep(1500);
  let master = await text(`${base}/master.m3u8`);
  for (let i = 0; i < 150 && (master.match(/EXT-X-STREAM-INF/g) ?? []).length < 3; i++) {
    await sleep(200);
    master = await text(`${base}/master.m3u8`);
  }
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
  assert.equal(variants.length, 3, `${master}\n${JSON.stringify(h.logs.filter((l) => l.component === 'live-abr' || /ABR|abr/.test(String(l.msg))))}`);
  assert.match(variants[0]!, /RESOLUTION=640x360/);
  assert.match(master, /RESOLUTION=426x240[^\n]*\n240p\/index\.m3u8/);
  assert.match(master, /RESOLUTION=320x180[^\n]*\n180p\/index\.m3u8/);
  for (const v of variants) {
    assert.match(v, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    assert.match(v, /FRAME-RATE=25\.000/);
    assert.match(v, /AVERAGE-BANDWIDTH=\d+/);
  }
  const pid = h.strom.live.llhls.abr.transcoder('cam1')?.pid;
  assert.ok(pid !== null && pid !== undefined && processAlive(pid), 'one ffmpeg child runs');
  assert.match(await (await fetch(`${h.httpUrl}/metrics`)).text(), /^strom_live_abr_transcodes 1$/m);

  // Alignment: wait for a segment a few MSNs ahead in every rendition, then compare.
  const src0 = parseLl(await text(`${base}/index.m3u8`));
  const target = (src0.mediaSequence ?? 0) + src0.segments.length + 1;
  const urls = { src: `${base}/index.m3u8`, r240: `${base}/240p/index.m3u8`, r180: `${base}/180p/index.m3u8` };
  const texts: Record<string, string> = {};
  for (const [k, u] of Object.entries(urls)) texts[k] = await text(`${u}?_HLS_msn=${target}`);
  const ms = Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, assertLlConformant(v)])) as Record<string, LlManifest>;
  const src = bySeq(ms.src!);
  for (const k of ['r240', 'r180']) {
    const r = bySeq(ms[k]!);
    assert.equal(ms[k]!.targetDuration, ms.src!.targetDuration, `${k}: same EXT-X-TARGETDURATION`);
    const common = [...r.keys()].filter((n) => src.has(n));
    assert.ok(common.length >= 3 && r.has(target), `${k} lists msn ${target} and shares ≥3 MSNs with the source: ${[...r.keys()]} vs ${[...src.keys()]}`);
    for (const n of common) {
      const a = src.get(n)!;
      const b = r.get(n)!;
      assert.ok(Math.abs(a.duration - b.duration) <= FRAME_S + 1e-6, `${k} seg ${n}: ${b.duration} vs source ${a.duration}`);
      if (a.parts.length > 0 && b.parts.length > 0) {
        assert.equal(b.parts.length, a.parts.length, `${k} seg ${n}: part count`);
        b.parts.forEach((d, i) => assert.ok(Math.abs(d - a.parts[i]!) <= FRAME_S + 1e-6, `${k} seg ${n} part ${i}: ${d} vs ${a.parts[i]}`));
      }
    }
  }

  // Rendition reports: every playlist reports the OTHER renditions, never itself.
  const reportUris = (m: LlManifest) => (m.renditionReports ?? []).map((r) => r.uri).sort();
  assert.deepEqual(reportUris(ms.src!), ['180p/index.m3u8', '240p/index.m3u8']);
  assert.deepEqual(reportUris(ms.r240!), ['../180p/index.m3u8', '../index.m3u8']);
  assert.deepEqual(reportUris(ms.r180!), ['../240p/index.m3u8', '../index.m3u8']);
  for (const r of ms.src!.renditionReports!) {
    const other = parseLl(await text(`${base}/${r.uri}`));
    const lastMsn = (other.mediaSequence ?? 0) + other.segments.length - (other.preloadSegment?.parts?.length ? 0 : 1);
    assert.ok(r.lastMsn >= target - 1 && r.lastMsn <= lastMsn, `${r.uri}: LAST-MSN ${r.lastMsn} (target ${target}, now ${lastMsn})`);
    assert.ok(r.lastPart >= 0 && r.lastPart < 4, `${r.uri}: LAST-PART ${r.lastPart} is a part index`);
  }
  assert.match(texts.src!, /#EXT-X-RENDITION-REPORT:URI="240p\/index\.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);

  // Media URLs name their rendition's muxer run: each rendition has its own.
  const runOf = (m: LlManifest) => /^part_([0-9a-z]{8})_\d+\.m4s$/.exec(allParts(m)[0]!.uri)?.[1];
  const runs = { src: runOf(ms.src!), r240: runOf(ms.r240!), r180: runOf(ms.r180!) };
  assert.equal(runs.src, h.strom.live.llhls.muxer('cam1').run);
  assert.equal(runs.r240, h.strom.live.llhls.abr.rendition('cam1', '240p')?.run);
  assert.equal(new Set(Object.values(runs)).size, 3, `three runs: ${JSON.stringify(runs)}`);
  const part240 = `${base}/240p/${allParts(ms.r240!).at(-1)!.uri}`;
  const before = await fetch(part240);
  assert.equal(before.status, 200);
  assert.equal(before.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal((await fetch(`${base}/180p/${allParts(ms.r240!).at(-1)!.uri}`)).status, 404, "a 240p part's name is not a 180p part");

  // Bad rendition URLs.
  assert.equal((await fetch(`${base}/999p/index.m3u8`)).status, 404);
  assert.equal((await fetch(`${base}/240p/master.m3u8`)).status, 404);
  assert.equal((await fetch(`${base}/x240/index.m3u8`)).status, 404);

  // ffprobe reads each rendition's plain view at the expected size.
  for (const [name, size] of [['240p', '426x240'], ['180p', '320x180']] as const) {
    const p = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0:s=x', `${base}/${name}/plain.m3u8`], 30_000).done;
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.trim().split('\n')[0], size, name);
  }

  // A crashed child: renditions leave the master at once, the child is restarted (backoff) and they come back.
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => h.strom.live.llhls.abr.renditions('cam1').length === 0, 'renditions dropped while the child is down');
  assert.equal((await text(`${base}/master.m3u8`)).match(/EXT-X-STREAM-INF/g)?.length, 1, 'only the source while down');
  assert.equal((await fetch(`${base}/240p/index.m3u8`)).status, 404);
  for (let i = 0; i < 200 && (h.strom.live.llhls.abr.renditions('cam1').length < 2); i++) await sleep(100);
  const pid2 = h.strom.live.llhls.abr.transcoder('cam1')?.pid;
  assert.ok(pid2 && pid2 !== pid && processAlive(pid2), 'restarted');
  assert.equal(h.strom.live.llhls.abr.restarts, 1);
  assert.ok(h.logs.some((l) => l.msg === 'live ABR ffmpeg exited; restarting'), 'crash logged');
  assert.equal((await text(`${base}/master.m3u8`)).match(/EXT-X-STREAM-INF/g)?.length, 3, 'renditions back');
  // The restarted child feeds new rendition muxers: new runs, and the old run's part is gone.
  const after240 = parseLl(await text(`${base}/240p/index.m3u8`));
  assert.notEqual(runOf(after240), runs.r240, '240p has a new run');
  const gone = await fetch(part240);
  assert.equal(gone.status, 404, 'the previous run\'s part is not served');
  assert.equal(gone.headers.get('cache-control'), 'no-store');

  // The publisher stops: the child drains and exits, the renditions end with ENDLIST.
  pub.child.kill('SIGKILL');
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active !== true, 'stream ended');
  for (let i = 0; i < 200 && processAlive(pid2); i++) await sleep(50);
  assert.equal(processAlive(pid2), false, 'the ffmpeg child is gone after the stream stops');
  assert.equal(h.strom.live.llhls.abr.running, 0);
  assert.match(await text(`${base}/240p/index.m3u8`), /#EXT-X-ENDLIST/);
});

test('over live.abrMaxStreams the stream stays passthrough, with a warning', { timeout: 30_000 }, async (t) => {
  const h = await startLive({ 'live.abrAll': true, 'live.abrMaxStreams': 0, 'live.abrLadder': '180p', 'llhls.segmentTargetMs': 500, 'llhls.partTargetMs': 200 });
  t.after(() => h.close());
  const c = await syntheticPublisher(h.rtmpPort);
  t.after(() => c.destroy());
  sendFrames(c, 0, 2);
  await sleep(100);
  const first = fetch(`${h.httpUrl}/live/cam1/master.m3u8`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started');
  sendFrames(c, 3, 30);
  const r = await first;
  assert.equal(r.status, 200);
  const body = await r.text();
  assert.equal((body.match(/EXT-X-STREAM-INF/g) ?? []).length, 1, body);
  assert.equal(h.strom.live.llhls.abr.refused, 1);
  assert.equal(h.strom.live.llhls.abr.running, 0);
  assert.ok(h.logs.some((l) => l.msg === 'live.abrMaxStreams transcodes running; stream stays passthrough' && l.streamId === 'cam1'), 'warning logged');
  assert.doesNotMatch(await (await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).text(), /RENDITION-REPORT/);
  assert.equal((await fetch(`${h.httpUrl}/live/cam1/180p/index.m3u8`)).status, 404);
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.match(metrics, /^strom_live_abr_refused_total 1$/m);
  assert.match(metrics, /^strom_live_abr_transcodes 0$/m);
});
