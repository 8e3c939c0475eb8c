/**
 * A cheap HTTP-FLV reader for benchmarks: one raw TCP socket, HTTP/1.1 response head, chunked
 * de-framing and FLV tag-header scanning without copying tag bodies, so 1,000 viewers in one
 * process cost little more than the reads. Records, per video frame, its FLV timestamp and the
 * wall time it arrived (performance.timeOrigin + now, comparable across processes).
 */
import net from 'node:net';

/** Per-viewer results. */
export interface ViewerStats {
  status: number;
  frames: number;
  firstDts: number;
  lastDts: number;
  bytes: number;
  ended: boolean;
  /** [dts, arrivalMs] of each video frame, when sampled. */
  samples?: Array<[number, number]>;
}

/** Wall-clock ms with sub-ms precision. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Open one HTTP-FLV viewer on host:port path. */
export function scanViewer(host: string, port: number, path: string, sample: boolean): { stats: ViewerStats; socket: net.Socket; connected: Promise<void> } {
  const stats: ViewerStats = { status: 0, frames: 0, firstDts: -1, lastDts: -1, bytes: 0, ended: false, ...(sample ? { samples: [] } : {}) };
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let head = '';
  let inBody = false;
  let chunked = false;
  // chunked state
  let chunkLeft = 0;
  let sizeLine = '';
  let cstate: 'size' | 'data' | 'crlf' = 'size';
  let crlfLeft = 0;
  // flv state
  let flvSkip = 13;
  const hdr = Buffer.alloc(13);
  let hdrFill = 0;
  let bodySkip = 0;

  const flv = (b: Buffer, off: number, end: number) => {
    while (off < end) {
      if (flvSkip > 0) {
        const n = Math.min(flvSkip, end - off);
        flvSkip -= n;
        off += n;
        continue;
      }
      if (bodySkip > 0) {
        const n = Math.min(bodySkip, end - off);
        bodySkip -= n;
        off += n;
        continue;
      }
      // tag header (11) + first 2 body bytes
      const n = Math.min(13 - hdrFill, end - off);
      b.copy(hdr, hdrFill, off, off + n);
      hdrFill += n;
      off += n;
      if (hdrFill < 13) return;
      hdrFill = 0;
      const size = hdr.readUIntBE(1, 3);
      const ts = (hdr.readUIntBE(4, 3) | (hdr[7]! << 24)) >>> 0;
      if ((hdr[0]! & 0x1f) === 9 && hdr[12] === 1) {
        stats.frames++;
        if (stats.firstDts < 0) stats.firstDts = ts;
        stats.lastDts = ts;
        stats.samples?.push([ts, wallMs()]);
      }
      bodySkip = size - 2 + 4;
    }
  };

  const body = (b: Buffer, off: number) => {
    if (!chunked) return flv(b, off, b.length);
    while (off < b.length) {
      if (cstate === 'size') {
        const nl = b.indexOf(10, off);
        if (nl < 0) {
          sizeLine += b.toString('latin1', off);
          return;
        }
        sizeLine += b.toString('latin1', off, nl);
        off = nl + 1;
        chunkLeft = parseInt(sizeLine.trim(), 16);
        sizeLine = '';
        if (chunkLeft === 0) return;
        cstate = 'data';
      } else if (cstate === 'data') {
        const n = Math.min(chunkLeft, b.length - off);
        flv(b, off, off + n);
        off += n;
        chunkLeft -= n;
        if (chunkLeft === 0) {
          cstate = 'crlf';
          crlfLeft = 2;
        }
      } else {
        const n = Math.min(crlfLeft, b.length - off);
        crlfLeft -= n;
        off += n;
        if (crlfLeft === 0) cstate = 'size';
      }
    }
  };

  socket.on('data', (b: Buffer) => {
    stats.bytes += b.length;
    if (inBody) return body(b, 0);
    head += b.toString('latin1');
    const i = head.indexOf('\r\n\r\n');
    if (i < 0) return;
    stats.status = Number(head.slice(9, 12));
    chunked = /transfer-encoding:\s*chunked/i.test(head.slice(0, i));
    inBody = true;
    const bodyStart = Buffer.byteLength(head.slice(0, i + 4), 'latin1');
    const consumedBefore = Buffer.byteLength(head, 'latin1') - b.length;
    body(b, bodyStart - consumedBefore);
  });
  socket.on('close', () => (stats.ended = true));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`);
    resolve();
  }));
  return { stats, socket, connected };
}
