/**
 * The IP camera stand-in (test/fixtures/rtsp-camera.py: GStreamer's RTSP server library through
 * python3-gi) for RTSP pull tests and benches: `camera(args)` starts it on a free port and resolves
 * once it listens; `cameraMissing` says why it cannot run here, or false.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { within } from './until.js';

/** Debian's python3 (python3-gi is installed for it; another python3 may come first on PATH). */
export const PY = '/usr/bin/python3';

/** Why the camera cannot run here (a message naming the packages), or false. */
export const cameraMissing: string | false = spawnSync(PY, ['-c', "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import GstRtspServer"]).status !== 0
  ? 'needs /usr/bin/python3 with python3-gi and gir1.2-gst-rtsp-server-1.0 (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0, or bash scripts/setup.sh test)'
  : spawnSync('gst-inspect-1.0', ['x264enc']).status !== 0 ? 'needs the GStreamer x264enc element (gstreamer1.0-plugins-ugly)' : false;

/** Start the GStreamer camera; resolves once it listens at rtsp://127.0.0.1:<port>/cam. */
export async function camera(args: string[] = []): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(PY, ['test/fixtures/rtsp-camera.py', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await within(new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`camera exited ${code}`)));
  }), 'the GStreamer camera to listen', 15_000);
  return { port, child };
}
