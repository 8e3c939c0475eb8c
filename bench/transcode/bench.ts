/**
 * Transcode benchmark: Strom's `processVideo` against bare ffmpeg running the very same ladder
 * command (same builder, same source, same machine, same run). Prints wall times, the pipeline's
 * overhead over bare ffmpeg, time-to-playable and its ratio to the full-ladder time, and speed as
 * a multiple of realtime. Rounds alternate bare/pipeline so load from other processes hits both.
 *
 *   node --import tsx bench/transcode/bench.ts <source.mp4> <workdir> [rounds]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { testConfig } from '../../src/config.js';
import { buildLadderArgs } from '../../src/vod/ffmpeg-args.js';
import { parseLadder, planLadder } from '../../src/vod/ladder.js';
import { processVideo } from '../../src/vod/process-video.js';
import { probeMedia } from '../../src/vod/probe.js';

const [source, work, roundsArg] = process.argv.slice(2);
if (!source || !work) throw new Error('usage: bench.ts <source> <workdir> [rounds]');
const rounds = Number(roundsArg ?? 2);
const LADDER = process.env.LADDER ?? '720:2800,480:1400,360:800';
const cfg = testConfig({ 'vod.ladder': LADDER, 'vod.preset': process.env.PRESET ?? 'veryfast', 'vod.segmentSeconds': Number(process.env.SEG ?? 4) }).vod;

/**
 * CPU seconds of this process plus its reaped children (ffmpeg), from /proc/self/stat utime, stime,
 * cutime, cstime (clock ticks, 100 Hz). On a shared machine CPU time is far steadier than wall time.
 */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return [11, 12, 13, 14].reduce((a, i) => a + Number(fields[i]), 0) / 100;
}

function runBare(args: string[]): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

const probe = await probeMedia(source, { limits: cfg });
const plan = planLadder(probe, { rungs: parseLadder(cfg.ladder), fpsCap: cfg.fpsCap, audioKbps: cfg.audioKbps });
const rows: { round: number; bareMs: number; pipelineMs: number; playableMs: number; bareCpuS: number; pipelineCpuS: number }[] = [];
let bareCommand = '';
for (let round = 1; round <= rounds; round++) {
  const bareDir = path.join(work, `bare-${round}`);
  await rm(bareDir, { recursive: true, force: true });
  for (const r of plan) await mkdir(path.join(bareDir, r.name), { recursive: true });
  const args = buildLadderArgs({ source, plan, segmentSeconds: cfg.segmentSeconds, preset: cfg.preset, workDir: bareDir, sourceFps: probe.video?.fps });
  bareCommand = `ffmpeg ${args.map((a) => (/[\s;[\]()*,]/.test(a) ? `'${a}'` : a)).join(' ')}`;
  const cpu0 = cpuSeconds();
  const bareMs = await runBare(args);
  const bareCpuS = cpuSeconds() - cpu0;
  await rm(bareDir, { recursive: true, force: true });
  const data = path.join(work, `strom-${round}`);
  await rm(data, { recursive: true, force: true });
  const cpu1 = cpuSeconds();
  const s = await processVideo({ source, assetsDir: path.join(data, 'assets'), tmpDir: path.join(data, 'tmp'), assetId: 'bench', config: cfg });
  const pipelineCpuS = cpuSeconds() - cpu1;
  rows.push({ round, bareMs, pipelineMs: s.timings.totalMs, playableMs: s.timings.playableMs, bareCpuS, pipelineCpuS });
  console.log(`round ${round}: bare ffmpeg ${(bareMs / 1000).toFixed(2)} s | processVideo ${(s.timings.totalMs / 1000).toFixed(2)} s ` +
    `(probe ${(s.timings.probeMs / 1000).toFixed(2)}, transcode ${(s.timings.transcodeMs / 1000).toFixed(2)}, package ${(s.timings.packageMs / 1000).toFixed(2)}) | playable at ${(s.timings.playableMs / 1000).toFixed(2)} s | CPU bare ${bareCpuS.toFixed(1)} s, pipeline ${pipelineCpuS.toFixed(1)} s`);
  await rm(data, { recursive: true, force: true });
}
const best = (k: 'bareMs' | 'pipelineMs' | 'playableMs' | 'bareCpuS' | 'pipelineCpuS'): number => Math.min(...rows.map((r) => r[k]));
const cpuOverhead = (best('pipelineCpuS') / best('bareCpuS') - 1) * 100;
const overhead = (best('pipelineMs') / best('bareMs') - 1) * 100;
const ratio = best('playableMs') / best('pipelineMs');
const summary = {
  source: `${probe.video?.width}x${probe.video?.height}@${probe.video?.fps} ${probe.durationS.toFixed(1)} s`,
  ladder: plan.map((r) => r.name).join(','), preset: cfg.preset, segmentSeconds: cfg.segmentSeconds, rounds: rows,
  bareCpuS: best('bareCpuS'), pipelineCpuS: best('pipelineCpuS'), cpuOverheadPct: cpuOverhead,
  bareS: best('bareMs') / 1000, pipelineS: best('pipelineMs') / 1000, overheadPct: overhead,
  playableS: best('playableMs') / 1000, playableRatio: ratio, realtimeX: probe.durationS / (best('pipelineMs') / 1000),
};
console.log(`\nsource ${summary.source}, ladder ${summary.ladder}, preset ${summary.preset}, ${summary.segmentSeconds} s segments, best of ${rounds}`);
console.log(`bare ffmpeg       ${summary.bareS.toFixed(2)} s`);
console.log(`processVideo      ${summary.pipelineS.toFixed(2)} s   overhead ${overhead.toFixed(1)} %  (target ≤ 5 %)`);
console.log(`CPU time          bare ${summary.bareCpuS.toFixed(1)} s, processVideo ${summary.pipelineCpuS.toFixed(1)} s   overhead ${cpuOverhead.toFixed(1)} %  (steadier under load)`);
console.log(`time to playable  ${summary.playableS.toFixed(2)} s   = ${ratio.toFixed(3)} × full-ladder time  (target ≤ 0.35)`);
console.log(`speed             ${summary.realtimeX.toFixed(2)} × realtime`);
console.log(`\nbare command: ${bareCommand}`);
await writeFile(path.join(work, 'result.json'), JSON.stringify(summary, null, 2));
