/**
 * Spawn ffmpeg/ffprobe as child processes with the three things a job system needs: typed progress
 * (from `-progress pipe:1`, one `key=value` block per update), cancellation through an AbortSignal
 * (SIGTERM, then SIGKILL after a short grace so a stuck encoder cannot outlive its job), and a
 * per-job timeout. Only a bounded tail of stderr is kept: ffmpeg can print megabytes of warnings on
 * a damaged file, and the last lines are the ones that explain a failure.
 */
import { spawn } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fail, isNoSpace, StromError } from '../errors.js';

/** One progress update parsed from ffmpeg's `-progress` output. */
export interface FfmpegProgress {
  /** Output position in seconds (`out_time_us`). */
  outTimeS: number;
  /** Encoding speed as a multiple of realtime (`speed=3.1x`), 0 when not yet known. */
  speed: number;
  /** True on the final block (`progress=end`). */
  done: boolean;
}

/** Options for `runFfmpeg`. */
export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the process and reject with TRANSCODE_TIMEOUT after this many ms (0 = none). */
  timeoutMs?: number;
  onProgress?: (p: FfmpegProgress) => void;
  /** Grace between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Collect stdout as bytes (`stdoutBytes`) instead of text. */
  binaryStdout?: boolean;
  /** Niceness added to Strom's own for the process (default: `setToolNiceness`'s); 0 = Strom's own priority. */
  niceness?: number;
}

/** Outcome of a finished child process. */
export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, with `binaryStdout`. */
  stdoutBytes?: Buffer;
}

const STDERR_TAIL = 8 * 1024;

/** Parse one `-progress` block's lines into a progress event (null when the block has no time yet). */
export function parseProgressBlock(lines: string[]): FfmpegProgress | null {
  const kv = new Map(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
  const us = Number(kv.get('out_time_us') ?? kv.get('out_time_ms'));
  if (!Number.isFinite(us) || us < 0) return null;
  const speed = Number.parseFloat(kv.get('speed') ?? '');
  return { outTimeS: us / 1e6, speed: Number.isFinite(speed) ? speed : 0, done: kv.get('progress') === 'end' };
}

/** The error an aborted signal stands for: its reason when that is a catalog error, else TRANSCODE_ABORTED. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof StromError) return reason;
  return fail('TRANSCODE_ABORTED', reason instanceof Error ? reason.message : String(reason ?? 'aborted'));
}

/** Keep the last `max` characters of a growing text. */
function tail(text: string, max: number): string {
  return text.length > max ? text.slice(text.length - max) : text;
}

/** Executable per tool name; the settings vod.ffmpegPath / vod.ffprobePath fill it, else the name is looked up on PATH. */
const toolPaths: Record<string, string> = {};
/** Map tool names (`ffmpeg`, `ffprobe`) to executables; set once by VodService from the config. */
export function setToolPaths(paths: Record<string, string>): void {
  Object.assign(toolPaths, paths);
}

/** Niceness added to Strom's own for spawned tools unless a run says otherwise (`vod.toolNiceness`). */
let toolNiceness = 0;
/** Set the default niceness of spawned tools; set once by VodService from the config. */
export function setToolNiceness(n: number): void {
  toolNiceness = n;
}

/**
 * Lower a just-spawned tool's CPU priority. Linux keeps a niceness per thread and a new thread
 * inherits its creator's: ffmpeg's encoder threads start after it has opened its input, well after
 * this runs, so they all inherit it. A failure (the process already gone) changes nothing.
 */
function lowerPriority(pid: number | undefined, niceness: number): void {
  if (pid === undefined || niceness <= 0) return;
  try {
    setPriority(pid, Math.min(19, getPriority() + niceness)); // relative to Strom's own, as nice(1) is
  } catch {
    // exited already: its exit is reported through 'close'
  }
}

/**
 * Run a tool to completion. Rejects with TRANSCODE_ABORTED when `signal` fires and TRANSCODE_TIMEOUT
 * when `timeoutMs` passes; otherwise resolves with the exit code and output (stdout whole unless
 * progress is parsed from it, stderr as a bounded tail).
 */
export function runTool(cmd: string, args: string[], o: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(abortError(o.signal));
    const child = spawn(toolPaths[cmd] ?? cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }); // configurable path, else PATH
    lowerPriority(child.pid, o.niceness ?? toolNiceness);
    let stdout = '';
    let stderr = '';
    let pending = '';
    let block: string[] = [];
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), o.killGraceMs ?? 2000);
      killTimer.unref();
    };
    let stopReason: Error | null = null;
    const onAbort = (): void => {
      stopReason = abortError(o.signal!);
      kill();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = o.timeoutMs ? setTimeout(() => {
      stopReason = fail('TRANSCODE_TIMEOUT', o.timeoutMs!);
      kill();
    }, o.timeoutMs) : undefined;
    const chunks: Buffer[] = [];
    if (o.binaryStdout) child.stdout.on('data', (chunk: Buffer) => void chunks.push(chunk));
    else child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (!o.onProgress) return void (stdout += chunk);
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        block.push(line);
        if (line.startsWith('progress=')) {
          const p = parseProgressBlock(block);
          block = [];
          if (p) o.onProgress(p);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = tail(stderr + chunk, STDERR_TAIL);
    });
    const finish = (err: Error | null, code: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (stopReason) reject(stopReason);
      else if (err) reject(fail('TRANSCODE_FAILED', `${cmd}: ${err.message}`));
      else resolve({ code, stdout, stderr, ...(o.binaryStdout ? { stdoutBytes: Buffer.concat(chunks) } : {}) });
    };
    child.on('error', (err) => finish(err, null));
    child.on('close', (code) => finish(null, code));
  });
}

/** The most telling stderr line of a failed run (last non-empty line). */
export function lastLine(stderr: string): string {
  return stderr.trim().split('\n').filter(Boolean).at(-1)?.slice(0, 300) ?? 'no output';
}

/**
 * Run ffmpeg with `-progress pipe:1 -nostats` added. A non-zero exit after media time advanced is a
 * decode failure midway (MEDIA_DECODE_FAILED); one before any output is TRANSCODE_FAILED.
 */
export async function runFfmpeg(args: string[], o: RunOptions = {}): Promise<ToolResult> {
  let reached = 0;
  const res = await runTool('ffmpeg', ['-progress', 'pipe:1', '-nostats', ...args], {
    ...o,
    onProgress: (p) => {
      reached = p.outTimeS;
      o.onProgress?.(p);
    },
  });
  if (res.code !== 0) {
    if (isNoSpace({ message: res.stderr })) throw fail('STORAGE_FULL', 'the transcode output');
    if (reached > 0) throw fail('MEDIA_DECODE_FAILED', reached, lastLine(res.stderr));
    throw fail('TRANSCODE_FAILED', lastLine(res.stderr));
  }
  return res;
}
