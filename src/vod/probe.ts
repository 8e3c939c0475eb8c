/**
 * Probe an uploaded file with ffprobe and turn it into a typed `ProbeResult`, or a precise
 * rejection (a catalog error the API stores on the video). Why here and not in the transcode: a
 * clear "this is a text file" or "over the 1 h limit" must be said in a second, before any encode.
 * Display size is computed once here (sample aspect ratio and rotation applied) so the ladder plan
 * works on what a viewer sees, not on coded pixels.
 */
import { open, stat } from 'node:fs/promises';
import { fail } from '../errors.js';
import { runTool } from './ffmpeg-runner.js';

/** The video stream a viewer will see. */
export interface ProbeVideo {
  codec: string;
  /** Coded size. */
  width: number;
  height: number;
  /** Size as displayed: sample aspect ratio applied, then rotation (90/270 swap the axes). */
  displayWidth: number;
  displayHeight: number;
  /** Display rotation in degrees as ffprobe reports it (display matrix, else `rotate` tag): 0, 90, 180 or 270. */
  rotation: number;
  fps: number;
  pixFmt: string;
}

/** The first audio stream. */
export interface ProbeAudio {
  codec: string;
  channels: number;
  sampleRate: number;
}

/** What Strom knows about a source after probing. */
export interface ProbeResult {
  durationS: number;
  sizeBytes: number;
  formatName: string;
  video: ProbeVideo | null;
  audio: ProbeAudio | null;
}

/** Limits checked at probe time (from `vod.*`). */
export interface ProbeLimits {
  maxDurationS: number;
  maxHeight: number;
  maxBytes: number;
}

interface FfStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  channels?: number;
  sample_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

interface FfProbe {
  streams?: FfStream[];
  format?: { format_name?: string; duration?: string; size?: string };
}

/** Magic numbers of containers ffmpeg reads: a failing probe of such a file means "corrupt", not "not media". */
const MAGICS: [offset: number, bytes: Buffer][] = [
  ...['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip'].map((box): [number, Buffer] => [4, Buffer.from(box, 'latin1')]),
  ...['RIFF', 'OggS', 'FLV', 'ID3', 'fLaC', '#EXTM3U'].map((m): [number, Buffer] => [0, Buffer.from(m, 'latin1')]),
  [0, Buffer.from('1a45dfa3', 'hex')], // EBML: Matroska, WebM
  [0, Buffer.from('000001ba', 'hex')], // MPEG-PS pack header
  [0, Buffer.from('3026b2758e66cf11', 'hex')], // ASF
];

async function looksLikeMedia(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(189), 0, 189, 0);
    const head = buffer.subarray(0, bytesRead);
    // MPEG-TS: sync byte 0x47 every 188 bytes.
    if (bytesRead === 189 && head[0] === 0x47 && head[188] === 0x47) return true;
    return MAGICS.some(([off, magic]) => head.subarray(off, off + magic.length).equals(magic));
  } finally {
    await fh.close();
  }
}

function ratio(text: string | undefined): number {
  const m = /^(\d+)[:/](\d+)$/.exec(text ?? '');
  if (!m || Number(m[2]) === 0 || Number(m[1]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}

/** Rotation from the display matrix side data or the legacy `rotate` tag, normalised to 0–270. */
function rotationOf(s: FfStream): number {
  const side = s.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const deg = side ?? Number(s.tags?.rotate ?? 0);
  return (((Math.round(deg / 90) * 90) % 360) + 360) % 360;
}

/** Typed view of ffprobe's JSON: the first real video stream (cover art excluded) and first audio stream. */
export function interpretProbe(raw: FfProbe, sizeBytes: number): ProbeResult {
  const streams = raw.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video' && s.codec_name && !s.disposition?.attached_pic && (s.width ?? 0) > 0);
  const a = streams.find((s) => s.codec_type === 'audio' && s.codec_name && (s.channels ?? 0) > 0);
  let video: ProbeVideo | null = null;
  if (v) {
    const width = v.width!;
    const height = v.height!;
    const sar = ratio(v.sample_aspect_ratio) || 1;
    const rotation = rotationOf(v);
    const w = Math.round(width * sar);
    const [displayWidth, displayHeight] = rotation % 180 === 0 ? [w, height] : [height, w];
    const fps = ratio(v.avg_frame_rate) || ratio(v.r_frame_rate) || 30;
    video = { codec: v.codec_name!, width, height, displayWidth, displayHeight, rotation, fps: Math.round(fps * 1000) / 1000, pixFmt: v.pix_fmt ?? 'unknown' };
  }
  const audio: ProbeAudio | null = a ? { codec: a.codec_name!, channels: a.channels!, sampleRate: Number(a.sample_rate ?? 0) } : null;
  const durationS = Number(raw.format?.duration ?? v?.duration ?? a?.duration ?? 0) || 0;
  return { durationS, sizeBytes, formatName: raw.format?.format_name ?? 'unknown', video, audio };
}

/** Reject what the limits forbid; returns the probe unchanged when it passes. */
export function checkLimits(file: string, p: ProbeResult, limits: ProbeLimits): ProbeResult {
  if (!p.video && !p.audio) throw fail('MEDIA_NO_STREAMS', file, p.formatName);
  if (!(p.durationS > 0)) throw fail('MEDIA_CORRUPT', file, 'no duration could be determined');
  if (p.durationS > limits.maxDurationS) throw fail('MEDIA_TOO_LONG', p.durationS, limits.maxDurationS);
  if (p.video && Math.min(p.video.displayWidth, p.video.displayHeight) > limits.maxHeight) {
    throw fail('MEDIA_RESOLUTION_TOO_HIGH', p.video.displayWidth, p.video.displayHeight, limits.maxHeight);
  }
  return p;
}

/** Probe `file` and check it against `limits`; throws MEDIA_* catalog errors. */
export async function probeMedia(file: string, o: { limits: ProbeLimits; signal?: AbortSignal }): Promise<ProbeResult> {
  const { size } = await stat(file);
  if (size === 0) throw fail('MEDIA_EMPTY', file);
  if (size > o.limits.maxBytes) throw fail('MEDIA_TOO_LARGE', size, o.limits.maxBytes);
  const res = await runTool('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { signal: o.signal });
  if (res.code !== 0) {
    // "[mov,mp4,… @ 0x…] moov atom not found" + "<file>: Invalid data found…": keep both, without prefixes.
    const lines = res.stderr.trim().split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '').replace(`${file}: `, '').trim()).filter(Boolean);
    const why = [...new Set(lines)].slice(-2).join('; ') || `ffprobe exited with ${res.code}`;
    throw (await looksLikeMedia(file)) ? fail('MEDIA_CORRUPT', file, why) : fail('MEDIA_NOT_MEDIA', file, why);
  }
  const raw = JSON.parse(res.stdout) as FfProbe;
  const p = interpretProbe(raw, size);
  if (!p.video && !p.audio) {
    const found = (raw.streams ?? []).map((s) => `${s.codec_type ?? '?'}:${s.codec_name ?? '?'}`).join(', ') || 'no streams';
    if (!(await looksLikeMedia(file)) && (raw.streams ?? []).length === 0) throw fail('MEDIA_NOT_MEDIA', file, `format ${p.formatName} has no streams`);
    throw fail('MEDIA_NO_STREAMS', file, found);
  }
  return checkLimits(file, p, o.limits);
}
