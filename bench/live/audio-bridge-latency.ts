/**
 * Latency the live audio bridge (src/live/transcode) adds, both directions, with real ffmpeg:
 * an in-process publisher pushes AAC (44.1 kHz, 1024-sample frames) or Opus (20 ms) units into a
 * StreamRegistry in real time; one reader asks for the other codec. Prints, over the steady state
 * (after the first 3 s):
 *  - child: wall time from writing the input that completes an output packet's audio to ffmpeg's
 *    stdin until that packet is read from its stdout (what `strom_live_audio_bridge_latency_seconds` measures);
 *  - reader: wall time from when the source unit ending at the packet's end time was pushed to when
 *    the transcoded unit reached the reader's sink (adds the hub's per-tick flushes).
 *   npx tsx bench/live/audio-bridge-latency.ts [seconds=15]
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { testConfig } from '../../src/config.js';
import { aacConfigUnit, aacUnit, opusConfigUnit, opusUnit } from '../../src/live/formats/flv/unit-builders.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { StreamRegistry, staticKeyResolver } from '../../src/live/stream/stream-registry.js';
import { AudioBridgePool } from '../../src/live/transcode/audio-bridge-pool.js';
import { AdtsParser, adtsToAsc } from '../../src/live/formats/audio/adts.js';
import { OggReader } from '../../src/live/formats/audio/ogg.js';
import { opusPacketSamples } from '../../src/live/formats/audio/opus-toc.js';

const seconds = Number(process.argv[2] ?? 15);

function ffmpeg(args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds + 2), '-ac', '2', ...args, 'pipe:1'], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function measure(from: 'aac' | 'opus'): Promise<void> {
  const cfg = testConfig({});
  const bridges = new AudioBridgePool(cfg, pino({ level: 'silent' }));
  const reg = new StreamRegistry(cfg, staticKeyResolver([]), pino({ level: 'silent' }), bridges);
  const units: Array<{ u: () => MediaUnit; dts: number; dur: number }> = [];
  let config: MediaUnit;
  if (from === 'aac') {
    const frames = new AdtsParser().push(ffmpeg(['-ar', '44100', '-c:a', 'aac', '-b:a', '128k', '-f', 'adts']));
    config = aacConfigUnit(adtsToAsc(frames[0]!.config), 0);
    frames.forEach((f, i) => units.push({ u: () => aacUnit(f.frame, Math.round((i * 1024000) / 44100)), dts: (i * 1024000) / 44100, dur: 1024000 / 44100 }));
  } else {
    const packets = new OggReader().push(ffmpeg(['-c:a', 'libopus', '-f', 'ogg', '-page_duration', '20000'])).flatMap((p) => p.packets);
    config = opusConfigUnit(packets[0]!, 0);
    let t = 0;
    for (const p of packets.slice(2)) {
      const at = t;
      const dur = opusPacketSamples(p) / 48;
      units.push({ u: () => opusUnit(p, Math.round(at)), dts: at, dur });
      t += dur;
    }
  }
  const pub = { id: 'bench', remote: 'bench', close() {} };
  const s = reg.startPublish('cam1', pub);
  s.push(config, 0);
  const child: number[] = [];
  bridges.observeLatency = (ms) => child.push(ms);
  const reader: number[] = [];
  const childAt: number[] = [];
  const start = performance.now();
  reg.addReader('cam1', from === 'aac' ? 'whep' : 'http-flv', {
    write(batch) {
      const now = performance.now();
      for (const u of batch) {
        if (u.kind !== 'audio' || u.config) continue;
        const dur = u.codec === 'opus' ? opusPacketSamples(u.payload) / 48 : 1024000 / 48000;
        reader.push(now - (start + u.dts + dur));
        childAt.push(now - start);
      }
      return true;
    },
    close() {},
  }, { audioCodec: from === 'aac' ? 'opus' : 'aac' });
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now() - start;
      while (i < units.length && units[i]!.dts + units[i]!.dur <= now) s.push(units[i++]!.u(), 0); // pushed once its audio has "happened"
      if (now > seconds * 1000) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  const steadyChild = child.slice(Math.floor(child.length * (3 / seconds)));
  const steadyReader = reader.filter((_, k) => childAt[k]! > 3000);
  const f = (xs: number[]) => xs.length === 0 ? 'no packets' : `p50 ${pct(xs, 50).toFixed(1)} / p95 ${pct(xs, 95).toFixed(1)} / max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
  console.log(`${from} → ${from === 'aac' ? 'opus' : 'aac'}: child ${f(steadyChild)}; reader ${f(steadyReader)}; first packet after ${childAt[0]?.toFixed(0)} ms`);
  reg.stopPublish(s, pub, 'bench done');
  await bridges.close();
}

const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`audio bridge latency, ${seconds} s per direction, load average ${load}`);
await measure('aac');
await measure('opus');
