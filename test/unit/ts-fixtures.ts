/** Shared by the ts-*.test.ts files: small ffmpeg-made transport streams, ffprobe packet lists, demux helpers. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { TsDemuxer, type TsDemuxerOptions, type TsWarning } from '../../src/live/formats/ts/ts-demuxer.js';

export type Variant = 'h264-aac' | 'hevc-aac' | 'h264-opus';

const VIDEO: Record<Variant, string[]> = {
  'h264-aac': ['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-g', '30', '-sc_threshold', '0'],
  'hevc-aac': ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=30:min-keyint=30:scenecut=0:bframes=2'],
  'h264-opus': ['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '30', '-sc_threshold', '0'],
};
const AUDIO: Record<Variant, string[]> = {
  'h264-aac': ['-c:a', 'aac', '-ar', '44100'],
  'hevc-aac': ['-c:a', 'aac', '-ar', '48000', '-ac', '2'],
  'h264-opus': ['-c:a', 'libopus', '-ar', '48000', '-ac', '2'],
};

/** Run a command to completion; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** True when this ffmpeg has the encoder. */
export function hasEncoder(name: string): boolean {
  return new RegExp(`^\\s*A\\S*\\s+${name}\\s`, 'm').test(sh('ffmpeg', ['-hide_banner', '-encoders']));
}

/** A temporary directory removed when the process exits. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-ts-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `seconds` of 160×120 30 fps test pattern + tone as MPEG-TS (ffmpeg's own muxer); returns the file. */
export function ffmpegTs(dir: string, v: Variant, seconds = 2): string {
  const file = path.join(dir, `${v}-${seconds}.ts`);
  sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), ...VIDEO[v], ...AUDIO[v], '-f', 'mpegts', file]);
  return file;
}

/** One packet as ffprobe reports it (90 kHz ticks). */
export interface ProbePacket {
  pts: number;
  dts: number;
  key: boolean;
}

/** What ffprobe reads from a file: packets per codec_type in file order, and the streams. */
export interface Probe {
  video: ProbePacket[];
  audio: ProbePacket[];
  /** codec_type, codec_name, sample_rate, channels, width, height of each stream. */
  streams: Array<Record<string, string | number>>;
}

/** One ffprobe run over a file. */
export function probe(file: string): Probe {
  const json = JSON.parse(sh('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts,dts,flags:stream=codec_type,codec_name,sample_rate,channels,width,height', '-of', 'json', file])) as {
    packets: Array<{ codec_type: string; pts: number; dts: number; flags: string }>;
    streams: Array<Record<string, string | number>>;
  };
  const out: Probe = { video: [], audio: [], streams: json.streams };
  for (const p of json.packets) {
    const list = p.codec_type === 'video' ? out.video : p.codec_type === 'audio' ? out.audio : null;
    list?.push({ pts: p.pts, dts: p.dts, key: p.flags.startsWith('K') });
  }
  return out;
}

/** What a demux run produced. */
export interface DemuxResult {
  units: MediaUnit[];
  warnings: TsWarning[];
  demuxer: TsDemuxer;
}

/** Demux `data` pushed in slices of `step` bytes (or the given split points' slices). */
export function demux(data: Buffer, step: number | ((i: number) => number) = 1316, options: TsDemuxerOptions = {}): DemuxResult {
  const units: MediaUnit[] = [];
  const warnings: TsWarning[] = [];
  const demuxer = new TsDemuxer({ unit: (u) => units.push(u), warning: (w) => warnings.push(w) }, options);
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = typeof step === 'number' ? step : Math.max(1, step(k));
    demuxer.push(data.subarray(i, i + n));
    i += n;
  }
  demuxer.flush();
  return { units, warnings, demuxer };
}

/** Demux a file. */
export function demuxFile(file: string, step: number | ((i: number) => number) = 1316): DemuxResult {
  return demux(readFileSync(file), step);
}

/** A deterministic PRNG (mulberry32): the same seed gives the same sequence on every run. */
export { seededRandom as prng } from '../../bench/netem/model.js';

/** A media unit's identity for comparisons: kind, config, key, times to the tick, payload bytes. */
export function unitKey(u: MediaUnit): string {
  return `${u.kind}${u.config ? 'C' : ''}${u.keyframe ? 'K' : ''}@${Math.round(u.dts * 90)}/${Math.round(u.pts * 90)}:${u.payload.toString('base64')}`;
}
