/**
 * The peer of bench/startup/vod.ts: the test source, and the same source packaged by plain ffmpeg
 * (fMP4 HLS, 2 s segments, 3 rungs with audio muxed into each variant, master playlist from
 * -master_pl_name) served by a private nginx (own prefix and config in a temp dir, daemon off,
 * access log off, sendfile on, CORS `*`, HLS MIME types).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../../test/helpers/cdn.js';
import { freePort } from '../../test/helpers/free-port.js';
import { terminate, waitPort } from '../../test/helpers/child-process.js';

const execFileP = promisify(execFile);

/** The reference ladder: height and video kbit/s of each rung (Strom's nominal rates for these heights). */
export const REFERENCE_RUNGS = [{ height: 720, kbps: 2800 }, { height: 480, kbps: 1400 }, { height: 360, kbps: 800 }] as const;

async function ffmpeg(args: string[], cwd: string): Promise<void> {
  await execFileP('ffmpeg', ['-hide_banner', '-v', 'error', ...args], { cwd, maxBuffer: 16 << 20 }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`ffmpeg failed: ${e.stderr ?? e.message}`);
  });
}

/** A `seconds`-long 1280×720 30 fps testsrc2 + 440 Hz sine source (libx264 + AAC, mp4) in `dir`. */
export async function makeSource(dir: string, seconds = 10): Promise<string> {
  const file = path.join(dir, 'source.mp4');
  await ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-b:v', '4000k', '-c:a', 'aac', '-b:a', '128k', '-shortest', '-movflags', '+faststart', '-y', file], dir);
  return file;
}

/** Package `source` into `dir` (master.m3u8, v0..v2/index.m3u8, init_N.mp4, seg_NNN.m4s) with ffmpeg's HLS muxer. */
export async function packageReference(source: string, dir: string): Promise<void> {
  const n = REFERENCE_RUNGS.length;
  const split = `[0:v]split=${n}${REFERENCE_RUNGS.map((_, i) => `[s${i}]`).join('')};${REFERENCE_RUNGS.map((r, i) => `[s${i}]scale=-2:${r.height}[v${i}]`).join(';')}`;
  const rates = REFERENCE_RUNGS.flatMap((r, i) => [`-b:v:${i}`, `${r.kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.kbps * 1.5)}k`, `-bufsize:v:${i}`, `${r.kbps * 2}k`]);
  await ffmpeg(['-i', source, '-filter_complex', split,
    ...REFERENCE_RUNGS.flatMap((_, i) => ['-map', `[v${i}]`]), ...REFERENCE_RUNGS.flatMap(() => ['-map', '0:a']),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', ...rates,
    '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-f', 'hls', '-hls_time', '2', '-hls_segment_type', 'fmp4', '-hls_playlist_type', 'vod', '-hls_flags', 'independent_segments',
    '-master_pl_name', 'master.m3u8', '-var_stream_map', REFERENCE_RUNGS.map((_, i) => `v:${i},a:${i}`).join(' '),
    '-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', 'v%v/seg_%03d.m4s', 'v%v/index.m3u8'], dir);
  if (!readFileSync(path.join(dir, 'master.m3u8'), 'utf8').includes('v0/index.m3u8')) throw new Error('reference master playlist has no v0 variant');
}

/** nginx serving `root` on a free loopback port; its prefix, config, pid and logs live in `dir`. */
export async function startNginx(root: string, dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = findBinary('nginx');
  if (bin === null) throw new Error('nginx is not installed (Debian package nginx-light; bash scripts/setup.sh test installs it)');
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${path.join(dir, `${k}_temp`)};`).join('\n');
  // As root nginx would switch its workers to `nobody`, which cannot read a mkdtemp directory.
  writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
worker_processes 2;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
${temp}
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; text/html html; text/javascript js; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    add_header Access-Control-Allow-Origin * always;
    location / { }
  }
}
`);
  const args = ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')];
  await execFileP(bin, ['-t', '-q', ...args]).catch((e: Error & { stderr?: string }) => {
    throw new Error(`nginx -t failed: ${e.stderr ?? e.message}`);
  });
  const child = spawn(bin, args, { stdio: 'ignore' });
  const errorLog = () => {
    try {
      return readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await waitPort(port, child, 10_000, errorLog).catch(async (e: unknown) => {
    await terminate(child);
    throw e;
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => terminate(child) };
}
