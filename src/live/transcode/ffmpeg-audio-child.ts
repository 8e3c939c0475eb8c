/**
 * One ffmpeg child transcoding a live audio track through pipes: AAC (ADTS on stdin) → Opus (Ogg on
 * stdout), or Opus (Ogg on stdin) → AAC (ADTS on stdout). Why these flags:
 * - input `-fflags nobuffer -flags low_delay -probesize 32 -analyzeduration 0`: the demuxer must not
 *   wait for seconds of input to "probe" a stream whose format we already state with `-f`;
 * - output `-flush_packets 1` and, for Ogg, `-page_duration 20000` (µs): ffmpeg's Ogg muxer closes a
 *   page every second by default, which would add up to 1 s; libopus `-application lowdelay`
 *   (CELT-only, 20 ms frames) avoids SILK's extra look-ahead.
 * stdin is bounded: while more than `maxQueuedBytes` wait in the pipe, input is dropped and counted
 * (a stalled ffmpeg must not grow memory). stderr (`-loglevel error`) lines are logged with the
 * stream id, at most STDERR_LINES per child. `stop()` closes stdin, SIGTERMs, SIGKILLs after 2 s,
 * and resolves once the child is reaped.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from 'pino';
import { AdtsParser, adtsToAsc, AAC_SAMPLE_RATES } from '../formats/audio/adts.js';
import { OggReader } from '../formats/audio/ogg.js';
import { opusHeadInfo, opusPacketSamples } from '../formats/audio/opus-toc.js';

/** Codec the child produces. */
export type BridgeTarget = 'aac' | 'opus';

/** What the child reports back. */
export interface AudioChildEvents {
  /** Decoder configuration of the output (OpusHead, or a 2-byte AudioSpecificConfig); `delayMs` = encoder priming. */
  onConfig(config: Buffer, delayMs: number): void;
  /** One encoded packet and its duration in ms. */
  onPacket(packet: Buffer, durationMs: number): void;
  /** The child exited (`expected` when `stop()` asked it to). */
  onExit(code: number | null, signal: NodeJS.Signals | null, expected: boolean): void;
}

const STDERR_LINES = 20;

/** ffmpeg arguments for one direction; `kbps` is the output bitrate. */
export function audioBridgeArgs(target: BridgeTarget, kbps: number): string[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-nostats', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];
  if (target === 'opus') {
    return [...input, '-f', 'aac', '-i', 'pipe:0', '-vn', '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20', '-b:a', `${kbps}k`, '-ar', '48000',
      '-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1', 'pipe:1'];
  }
  return [...input, '-f', 'ogg', '-i', 'pipe:0', '-vn', '-c:a', 'aac', '-b:a', `${kbps}k`, '-f', 'adts', '-flush_packets', '1', 'pipe:1'];
}

/** A running transcoder process. */
export class FfmpegAudioChild {
  /** Process id (null once reaped). */
  pid: number | null;
  readonly exited: Promise<void>;
  private readonly child: ChildProcessWithoutNullStreams;
  private stopping = false;
  private stderrLines = 0;
  private stderrBuf = '';
  private ascSent: Buffer | null = null;
  private readonly maxQueuedBytes: number;

  constructor(
    readonly target: BridgeTarget,
    opts: { ffmpegPath: string; kbps: number; maxQueuedBytes: number },
    private readonly events: AudioChildEvents,
    private readonly log: Logger,
  ) {
    this.maxQueuedBytes = opts.maxQueuedBytes;
    this.child = spawn(opts.ffmpegPath, audioBridgeArgs(target, opts.kbps), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid ?? null;
    this.child.stdin.on('error', () => {}); // EPIPE when ffmpeg dies first: the exit handler reports it
    const parse = target === 'opus' ? this.oggOutput() : this.adtsOutput();
    this.child.stdout.on('data', parse);
    this.child.stderr.on('data', (d: Buffer) => this.stderr(d));
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return; // a failed spawn may report both 'error' and 'close'
        done = true;
        this.pid = null;
        this.events.onExit(code, signal, this.stopping);
        resolve();
      };
      this.child.on('error', (err) => {
        this.log.error({ err: err.message, ffmpegPath: opts.ffmpegPath }, 'audio bridge: ffmpeg could not start');
        if (this.child.pid === undefined) finish(null, null);
      });
      this.child.on('close', finish);
    });
  }

  /** Write input; false (and counted) when ffmpeg is too far behind or gone. */
  write(buf: Buffer): boolean {
    const stdin = this.child.stdin;
    if (this.stopping || this.pid === null || stdin.destroyed || stdin.writableLength + buf.length > this.maxQueuedBytes) return false;
    stdin.write(buf);
    return true;
  }

  /** Stop the child; resolves once it is reaped. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.child.stdin.destroy();
      if (this.pid !== null) {
        this.child.kill('SIGTERM');
        const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
        t.unref();
        void this.exited.then(() => clearTimeout(t));
      }
    }
    return this.exited;
  }

  private oggOutput(): (d: Buffer) => void {
    const ogg = new OggReader(64 * 1024);
    let packetNo = 0;
    return (d) => {
      for (const page of ogg.push(d)) {
        for (const pkt of page.packets) {
          const n = packetNo++;
          if (n === 0) {
            const info = opusHeadInfo(pkt);
            if (info) this.events.onConfig(pkt, info.preSkip / 48);
          } else if (n > 1) { // packet 1 is OpusTags (RFC 7845 §5.2)
            const samples = opusPacketSamples(pkt);
            if (samples > 0) this.events.onPacket(pkt, samples / 48);
          }
        }
      }
    };
  }

  private adtsOutput(): (d: Buffer) => void {
    const adts = new AdtsParser();
    return (d) => {
      for (const { config, frame } of adts.push(d)) {
        const asc = adtsToAsc(config);
        const rate = AAC_SAMPLE_RATES[config.sampleRateIndex]!;
        if (this.ascSent === null || !asc.equals(this.ascSent)) {
          this.ascSent = asc;
          this.events.onConfig(asc, (1024 * 1000) / rate); // ffmpeg's AAC encoder primes one frame
        }
        this.events.onPacket(frame, (1024 * 1000) / rate);
      }
    };
  }

  private stderr(d: Buffer): void {
    this.stderrBuf += d.toString();
    const lines = this.stderrBuf.split('\n');
    this.stderrBuf = lines.pop()!.slice(-4096);
    for (const line of lines) {
      if (line.trim() === '') continue;
      if (++this.stderrLines <= STDERR_LINES) this.log.warn({ pid: this.pid, ffmpeg: line.slice(0, 300) }, 'audio bridge: ffmpeg error');
      else if (this.stderrLines === STDERR_LINES + 1) this.log.warn({ pid: this.pid }, 'audio bridge: further ffmpeg errors of this child are not logged');
    }
  }
}
