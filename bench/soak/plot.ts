/**
 * The soak's plot, drawn without dependencies: stacked panels (RSS, open fds, event-loop delay
 * p99) of line series over the run's minutes, with axis ranges written in a tiny 3x5 bitmap font,
 * encoded as an RGB PNG (IHDR, one zlib IDAT, IEND; CRC-32 from node:zlib).
 */
import { crc32, deflateSync } from 'node:zlib';

/** A line of one panel. */
export interface Series {
  label: string;
  color: [number, number, number];
  points: ReadonlyArray<[number, number]>;
}

/** A panel: a title and its series. */
export interface Panel {
  title: string;
  series: Series[];
}

// 3x5 glyphs, rows top to bottom, 3 bits each (4 = left column).
const FONT: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '-': [0, 0, 7, 0, 0], ' ': [0, 0, 0, 0, 0], '(': [2, 4, 4, 4, 2], ')': [2, 1, 1, 1, 2],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [7, 4, 4, 4, 7], D: [6, 5, 5, 5, 6], E: [7, 4, 6, 4, 7], F: [7, 4, 6, 4, 4],
  H: [5, 5, 7, 5, 5], I: [7, 2, 2, 2, 7], K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7], M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5],
  O: [7, 5, 5, 5, 7], P: [7, 5, 7, 4, 4], R: [6, 5, 6, 5, 5], S: [7, 4, 7, 1, 7], T: [7, 2, 2, 2, 2], U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5], Y: [5, 5, 2, 2, 2], G: [7, 4, 5, 5, 7], Z: [7, 1, 2, 4, 7],
};

/** An RGB raster. */
class Canvas {
  readonly px: Buffer;
  constructor(readonly w: number, readonly h: number) {
    this.px = Buffer.alloc(w * h * 3, 255);
  }

  set(x: number, y: number, c: readonly number[]): void {
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (Math.round(y) * this.w + Math.round(x)) * 3;
    this.px[i] = c[0]!;
    this.px[i + 1] = c[1]!;
    this.px[i + 2] = c[2]!;
  }

  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      this.set(x, y, c);
      this.set(x, y + 1, c);
    }
  }

  text(x: number, y: number, s: string, c: readonly number[], scale = 2): void {
    for (const ch of s.toUpperCase()) {
      const g = FONT[ch] ?? FONT[' ']!;
      for (let r = 0; r < 5; r++) for (let b = 0; b < 3; b++) {
        if (g[r]! & (4 >> b)) for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.set(x + b * scale + dx, y + r * scale + dy, c);
      }
      x += 4 * scale;
    }
  }

  png(): Buffer {
    const raw = Buffer.alloc((this.w * 3 + 1) * this.h);
    for (let y = 0; y < this.h; y++) this.px.copy(raw, y * (this.w * 3 + 1) + 1, y * this.w * 3, (y + 1) * this.w * 3);
    const chunk = (type: string, data: Buffer): Buffer => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(data.length, 0);
      head.write(type, 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
      return Buffer.concat([head, data, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.w, 0);
    ihdr.writeUInt32BE(this.h, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  }
}

const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));

/** Draw `panels` stacked, x in minutes; returns the PNG bytes. */
export function plotPng(panels: readonly Panel[], w = 960, panelH = 220): Buffer {
  const c = new Canvas(w, panelH * panels.length);
  const grey = [170, 170, 170];
  const black = [0, 0, 0];
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[0])));
  const xMax = Math.max(1, ...all);
  panels.forEach((p, i) => {
    const top = i * panelH + 28;
    const left = 70;
    const right = w - 20;
    const bottom = (i + 1) * panelH - 26;
    const ys = p.series.flatMap((s) => s.points.map((q) => q[1]));
    const yMax = Math.max(1e-9, ...ys) * 1.1;
    const yMin = Math.min(0, ...ys);
    c.text(left, i * panelH + 8, p.title, black);
    let lx = left + p.title.length * 8 + 24;
    for (const s of p.series) {
      c.line(lx, i * panelH + 13, lx + 16, i * panelH + 13, s.color);
      c.text(lx + 22, i * panelH + 8, s.label, s.color);
      lx += 22 + s.label.length * 8 + 20;
    }
    c.line(left, top, left, bottom, grey);
    c.line(left, bottom, right, bottom, grey);
    c.text(4, top, fmt(yMax), black);
    c.text(4, bottom - 10, fmt(yMin), black);
    c.text(left, bottom + 6, '0', black);
    c.text(right - 80, bottom + 6, `${fmt(xMax)} MIN`, black);
    const X = (x: number) => left + ((right - left) * x) / xMax;
    const Y = (y: number) => bottom - ((bottom - top) * (y - yMin)) / (yMax - yMin);
    for (const s of p.series) {
      for (let k = 1; k < s.points.length; k++) {
        const [a, b] = [s.points[k - 1]!, s.points[k]!];
        c.line(X(a[0]), Y(a[1]), X(b[0]), Y(b[1]), s.color);
      }
    }
  });
  return c.png();
}
