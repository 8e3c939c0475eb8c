/**
 * Prepare (or reuse) the delivery benchmark data set: N assets, each a 3-rendition fMP4 HLS ladder
 * with 2 s segments of ~0.4–0.6 MB, packaged by test/helpers/fixture-asset.ts into
 * `<dataDir>/assets/bench<i>/`. Writes `<dataDir>/bench-manifest.json` and the list files the wrk
 * Lua script reads. Reuses what is there when the manifest matches the requested parameters.
 *
 *   npx tsx bench/delivery/prepare-assets.mts <dataDir> [assets=4] [secondsPerAsset=60]
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeFixtureAsset, type FixtureRung } from '../../test/helpers/fixture-asset.ts';

const [dataDirArg, assetsArg, secondsArg] = process.argv.slice(2);
if (!dataDirArg) {
  console.error('usage: prepare-assets.mts <dataDir> [assets] [secondsPerAsset]');
  process.exit(2);
}
const dataDir = path.resolve(dataDirArg);
const assetCount = Number(assetsArg ?? 4);
const seconds = Number(secondsArg ?? 60);
const segmentSeconds = 2;
// ~2.4/2.0/1.6 Mbps video (+96k audio) at 2 s per segment → ~0.6/0.5/0.43 MB segments.
const rungs: FixtureRung[] = [
  { name: 'v720', height: 720, kbps: 2400 },
  { name: 'v540', height: 540, kbps: 2000 },
  { name: 'v360', height: 360, kbps: 1600 },
];
const params = { version: 1, assetCount, seconds, segmentSeconds, rungs };
const manifestFile = path.join(dataDir, 'bench-manifest.json');

interface Manifest {
  params: typeof params;
  segments: { url: string; file: string; size: number }[];
  playlist: { url: string; file: string; size: number };
  master: { url: string; file: string; size: number };
  segmentBytes: number;
  segmentCount: number;
  meanSegmentBytes: number;
  minSegmentBytes: number;
  maxSegmentBytes: number;
}

async function reuse(): Promise<Manifest | null> {
  if (!existsSync(manifestFile)) return null;
  const m = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
  if (JSON.stringify(m.params) !== JSON.stringify(params)) return null;
  for (const s of [...m.segments, m.playlist]) {
    const st = await stat(s.file).catch(() => null);
    if (!st || st.size !== s.size) return null;
  }
  return m;
}

let manifest = await reuse();
if (manifest) {
  console.error(`prepare: reusing ${manifest.segmentCount} segments (${(manifest.segmentBytes / 1e6).toFixed(1)} MB) in ${dataDir}`);
} else {
  const t0 = Date.now();
  for (let i = 0; i < assetCount; i++) {
    console.error(`prepare: packaging asset bench${i} (${seconds} s, ${rungs.length} rungs) …`);
    await makeFixtureAsset({ dataDir, id: `bench${i}`, seconds, segmentSeconds, rungs, extras: false });
  }
  const segments: Manifest['segments'] = [];
  for (let i = 0; i < assetCount; i++) {
    for (const r of rungs) {
      const dir = path.join(dataDir, 'assets', `bench${i}`, r.name);
      for (const name of (await readdir(dir)).filter((n) => n.endsWith('.m4s')).sort()) {
        const file = path.join(dir, name);
        segments.push({ url: `/v/bench${i}/${r.name}/${name}`, file, size: (await stat(file)).size });
      }
    }
  }
  const entry = async (rel: string) => {
    const file = path.join(dataDir, 'assets', 'bench0', rel);
    return { url: `/v/bench0/${rel}`, file, size: (await stat(file)).size };
  };
  const sizes = segments.map((s) => s.size);
  const segmentBytes = sizes.reduce((a, b) => a + b, 0);
  manifest = {
    params, segments,
    playlist: await entry(`${rungs[0]!.name}/index.m3u8`),
    master: await entry('master.m3u8'),
    segmentBytes,
    segmentCount: segments.length,
    meanSegmentBytes: Math.round(segmentBytes / segments.length),
    minSegmentBytes: Math.min(...sizes),
    maxSegmentBytes: Math.max(...sizes),
  };
  await writeFile(manifestFile, JSON.stringify(manifest, null, 2));
  console.error(`prepare: packaged ${segments.length} segments (${(segmentBytes / 1e6).toFixed(1)} MB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

// List files for the wrk Lua script: one URL path per line.
await writeFile(path.join(dataDir, 'segments.list'), manifest.segments.map((s) => s.url).join('\n') + '\n');
await writeFile(path.join(dataDir, 'playlist.list'), manifest.playlist.url + '\n');
// Summary on stdout for run.sh (shell-friendly KEY=VALUE).
console.log(`SEGMENT_COUNT=${manifest.segmentCount}`);
console.log(`SEGMENT_BYTES=${manifest.segmentBytes}`);
console.log(`MEAN_SEGMENT_BYTES=${manifest.meanSegmentBytes}`);
console.log(`MIN_SEGMENT_BYTES=${manifest.minSegmentBytes}`);
console.log(`MAX_SEGMENT_BYTES=${manifest.maxSegmentBytes}`);
console.log(`CHECK_SEGMENT_URL=${manifest.segments[manifest.segments.length >> 1]!.url}`);
console.log(`CHECK_SEGMENT_FILE=${manifest.segments[manifest.segments.length >> 1]!.file}`);
console.log(`PLAYLIST_URL=${manifest.playlist.url}`);
console.log(`PLAYLIST_FILE=${manifest.playlist.file}`);
console.log(`PLAYLIST_BYTES=${manifest.playlist.size}`);
