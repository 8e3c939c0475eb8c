/**
 * `strom ingest FILE [--title T] [--data DIR] [--json]`: runs the same pipeline as an upload —
 * a video row, the source copied to `sources/<id>/`, a durable transcode job, the worker pool —
 * from the command line, with a progress bar on stderr. `--json` prints the video resource on
 * stdout when done. Exit status 1 when the asset errored.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type RawSettings } from '../config.js';
import { fail } from '../errors.js';
import { createLogger } from '../logger.js';
import { EventBus } from '../events/event-bus.js';
import { openStore } from '../store/db/database.js';
import { videoJson } from '../http/api/videos.js';
import { sourceDir, VodService } from '../vod/vod-service.js';
import { ProgressBar } from './progress-bar.js';
import { parseSetFlags } from './serve.js';

export const ingestUsage = `Usage: strom ingest FILE [--title T] [--visibility public|signed] [--data DIR] [--config FILE] [--set key=value]... [--json]

Transcodes FILE into an adaptive-bitrate asset (HLS, DASH, MP4, poster, storyboard) in the data
directory, showing progress (percent, speed as × realtime, ETA) on stderr. With --json, prints the
video resource as one JSON object on stdout. Exits 1 when the asset errored.`;

/** Run `strom ingest`. */
export async function ingest(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      title: { type: 'string' }, visibility: { type: 'string' }, data: { type: 'string' }, config: { type: 'string', short: 'c' },
      set: { type: 'string', multiple: true }, json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw fail('CLI_USAGE', ingestUsage);
  const file = path.resolve(positionals[0]!);
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) throw fail('CLI_USAGE', `no such file: ${file}`);
  if (values.visibility !== undefined && values.visibility !== 'public' && values.visibility !== 'signed') {
    throw fail('CLI_USAGE', `--visibility must be public or signed, got ${JSON.stringify(values.visibility)}`);
  }
  const flags: RawSettings = { dataDir: values.data, logLevel: process.env.STROM_LOG_LEVEL ?? 'warn', ...parseSetFlags(values.set) };
  const config = loadConfig({ file: values.config, flags });
  const log = createLogger(config.logLevel, 2); // stdout carries the --json result
  const store = await openStore(config.dataDir, { ...config.store, nodeId: config.cluster.nodeId ?? undefined, busyTimeoutMs: 5000 }); // waits for the server's writes
  const bus = new EventBus(16);
  const vod = new VodService({ config, store, bus, log, invalidate: () => undefined });
  const bar = new ProgressBar();
  try {
    const video = await store.videos.create({ title: values.title ?? path.basename(file), visibility: values.visibility as 'public' | 'signed' | undefined, status: 'waiting' });
    const dir = sourceDir(config.dataDir, video.id);
    await mkdir(dir, { recursive: true });
    const source = path.join(dir, 'source');
    await copyFile(file, source);
    await store.videos.update(video.id, { sourcePath: source });
    bus.publish('video.created', { videoId: video.id, title: video.title });
    const settled = new Promise<void>((resolve) => {
      bus.subscribe((e) => {
        const d = e.data as { videoId?: string };
        if (d.videoId !== video.id) return;
        if (e.type === 'video.progress') {
          const p = e.data as { phase: string; percent: number; speed?: number; etaS?: number };
          bar.update(p);
        } else if (e.type === 'video.ready' || e.type === 'video.errored') resolve();
      });
    });
    await vod.enqueue(video.id);
    await vod.start();
    // Also settle if another process (a running server on the same data dir) ran the job.
    const poll = setInterval(() => {
      void store.videos.get(video.id).then((r) => {
        if (r && (r.status === 'ready' || r.status === 'errored')) bus.publish(r.status === 'ready' ? 'video.ready' : 'video.errored', { videoId: r.id, code: r.error_code ?? '', message: r.error_message ?? '' });
      });
    }, 2000);
    await settled;
    clearInterval(poll);
    const row = (await store.videos.get(video.id))!;
    const ok = row.status === 'ready';
    bar.done(ok ? `ready: ${video.id} (${row.duration_s?.toFixed(1)} s) → /v/${video.id}/master.m3u8` : `errored: ${row.error_code}: ${row.error_message}`);
    if (values.json) process.stdout.write(`${JSON.stringify(videoJson(row))}\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    await vod.stop();
    await store.close();
  }
}
