/**
 * The dashboard's time-series charts, drawn with uPlot and loaded only by `#/dashboard` (this
 * module is imported dynamically, so uPlot is in its own chunk): the last 15 minutes of
 * `GET /api/v1/metrics/history` — requests/s, P95/P99 latency, 5xx rate, live viewers by protocol,
 * ingest bitrate, QoE startup P50 and rebuffer ratio. The history is fetched whole once, then only
 * the points after the newest one (`?since=`). Charts follow their container's width and say in
 * words why they are empty. Each `<figure id="chart-…">` carries `data-points` (points with a
 * value) for tests.
 */
import uPlot from 'uplot';
import { api, ApiError } from './api.js';
import { fmtBitrate, h } from './dom.js';

/** One point of the history (the server's fields the charts draw). */
interface Point {
  t: number;
  rps: number;
  p95Ms: number | null;
  p99Ms: number | null;
  errorRatio: number | null;
  viewers: Record<string, number>;
  ingestBps: number;
  qoeStartupP50Ms: number | null;
  rebufferRatio: number | null;
}

const WINDOW_S = 15 * 60;
const HEIGHT = 190;
const PROTOCOLS = ['http-flv', 'ws-flv', 'rtmp', 'hls', 'whep'];

const fmtMs = (v: number) => (v < 1000 ? `${v.toFixed(v > 0 && v < 10 ? 1 : 0)} ms` : `${(v / 1000).toFixed(2)} s`);
const fmtPct = (v: number) => `${v.toFixed(v > 0 && v < 10 ? 1 : 0)} %`;
const fmtCount = (v: number) => (Number.isInteger(v) ? String(v) : ''); // whole viewers only: no "0.5" ticks
const pct = (v: number | null) => (v === null ? null : v * 100);

/** One chart: its series (value per point) and how to show a value. */
interface Spec {
  id: string;
  title: string;
  series: { label: string; value: (p: Point) => number | null }[];
  fmt: (v: number) => string;
  /** Least top of the y axis, so flat or tiny series get a readable scale. */
  floor: number;
  empty: string;
  /** Values come and go (null between): draw every point, a lone value has no line. */
  sparse?: boolean;
}

const SPECS: Spec[] = [
  { id: 'rps', title: 'Requests / s', series: [{ label: 'requests/s', value: (p) => p.rps }], fmt: (v) => v.toFixed(v > 0 && v < 10 ? 1 : 0), floor: 1, empty: 'No samples yet.' },
  { id: 'latency', title: 'Latency P95 / P99', series: [{ label: 'P95', value: (p) => p.p95Ms }, { label: 'P99', value: (p) => p.p99Ms }], fmt: fmtMs, floor: 10, empty: 'No requests in the last 15 minutes.' },
  { id: 'errors', title: 'Error rate (5xx)', series: [{ label: '5xx', value: (p) => pct(p.errorRatio) }], fmt: fmtPct, floor: 1, empty: 'No requests in the last 15 minutes.' },
  { id: 'viewers', title: 'Live viewers by protocol', series: PROTOCOLS.map((k) => ({ label: k, value: (p: Point) => p.viewers[k] ?? 0 })), fmt: fmtCount, floor: 4, empty: 'No samples yet.' },
  { id: 'ingest', title: 'Ingest bitrate', series: [{ label: 'ingest', value: (p) => p.ingestBps }], fmt: fmtBitrate, floor: 1e6, empty: 'No samples yet.' },
  { id: 'startup', title: 'QoE startup time (P50)', series: [{ label: 'startup P50', value: (p) => p.qoeStartupP50Ms }], fmt: fmtMs, floor: 1000, empty: 'No playback started in the last 15 minutes (players report it with CMCD).', sparse: true },
  { id: 'rebuffer', title: 'Rebuffer ratio', series: [{ label: 'rebuffering', value: (p) => pct(p.rebufferRatio) }], fmt: fmtPct, floor: 1, empty: 'No active playback sessions (CMCD) in the last 15 minutes.', sparse: true },
];

/** The charts of one dashboard. */
export interface HistoryCharts {
  /** Fetch the new points and redraw. */
  refresh(): Promise<void>;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Build the charts into `box`; they are destroyed when `signal` aborts. */
export function mountHistoryCharts(box: HTMLElement, signal: AbortSignal): HistoryCharts {
  const muted = cssVar('--muted', '#9aa5b1');
  const grid = cssVar('--line', '#2a313a');
  const colors = [cssVar('--accent', '#3d9bff'), cssVar('--warn', '#f5b944'), cssVar('--ok', '#3ecf8e'), cssVar('--bad', '#ff6b6b'), '#b48cff'];
  let points: Point[] = [];
  let denied = false; // a token without admin stays so until the page is left
  // The x axis spans the history held: 15 minutes, or less on a server that started recently.
  let start = Date.now() / 1000 - WINDOW_S;
  let end = Date.now() / 1000;

  const charts = SPECS.map((spec) => {
    const now = h('span', { class: 'now' }, '—');
    const plot = h('div', { class: 'plot', role: 'img', 'aria-label': `${spec.title}, last 15 minutes` });
    const empty = h('p', { class: 'chart-empty' }, 'Loading…');
    const fig = h('figure', { class: 'chart', id: `chart-${spec.id}`, 'aria-labelledby': `chart-${spec.id}-t`, 'data-points': 0 },
      h('figcaption', { id: `chart-${spec.id}-t` }, h('span', {}, spec.title), now), plot, empty);
    box.append(fig);
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const u = new uPlot({
      width: Math.max(200, plot.clientWidth), height: HEIGHT,
      scales: {
        x: { time: true, range: () => [start, end] },
        // From a little below 0, so a series at zero is drawn above the plot's bottom edge.
        y: { range: (_u, _min, max) => {
          const top = Math.max(spec.floor, (max ?? 0) * 1.15);
          return [-top * 0.05, top];
        } },
      },
      series: [{}, ...spec.series.map((s, i) => ({
        label: s.label, stroke: colors[i % colors.length], width: 2, spanGaps: false,
        points: spec.sparse ? { show: true, size: 6 } : {},
        value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : spec.fmt(v)),
      }))],
      axes: [axis, { ...axis, size: (_u, values) => 18 + 8 * Math.max(3, ...(values ?? []).map((v) => v.length)), values: (_u, splits) => splits.map((v) => spec.fmt(v)) }],
      legend: { show: spec.series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
    }, [[]], plot);
    return { spec, fig, now, plot, empty, u };
  });

  const resize = new ResizeObserver(() => {
    for (const c of charts) if (c.plot.clientWidth > 0 && Math.abs(c.plot.clientWidth - c.u.width) > 1) c.u.setSize({ width: c.plot.clientWidth, height: HEIGHT });
  });
  resize.observe(box);
  signal.addEventListener('abort', () => {
    resize.disconnect();
    for (const c of charts) c.u.destroy();
  });

  function draw(notice: string | null): void {
    if (points.length) {
      end = points.at(-1)!.t / 1000;
      start = Math.min(Math.max(end - WINDOW_S, points[0]!.t / 1000), end - 1);
    }
    const xs = points.map((p) => p.t / 1000);
    for (const c of charts) {
      const ys = c.spec.series.map((s) => points.map(s.value));
      c.u.setData([xs, ...ys]);
      const withValue = points.filter((_p, i) => ys.some((y) => y[i] !== null)).length;
      c.fig.dataset.points = String(withValue);
      const last = ys.map((y) => y.findLast((x) => x !== null) ?? null);
      const latest = c.spec.series.flatMap((s, i) => (last[i] === null ? [] : [`${c.spec.series.length > 1 ? `${s.label} ` : ''}${c.spec.fmt(last[i]!)}`]));
      const total = last.reduce<number>((n, v) => n + (v ?? 0), 0);
      // Many series (viewers by protocol): the caption says the total, the label and legend the rest.
      c.now.textContent = latest.length > 2 ? `${c.spec.fmt(total)} total` : latest.length ? latest.join(' · ') : '—';
      c.plot.setAttribute('aria-label', `${c.spec.title}, last 15 minutes${latest.length ? `; latest ${latest.join(', ')}` : ''}`);
      const why = notice ?? (withValue === 0 ? c.spec.empty : null);
      c.empty.hidden = why === null;
      c.empty.textContent = why ?? '';
    }
  }

  return {
    async refresh() {
      if (denied) return;
      const since = points.length ? `?since=${points.at(-1)!.t}` : '';
      try {
        const snap = await api<{ intervalMs: number; points: Point[] }>('GET', `/api/v1/metrics/history${since}`, undefined, signal);
        if (snap.intervalMs === 0) {
          points = [];
          return draw('History is off on this server (metrics.historyIntervalMs = 0).');
        }
        points = points.concat(snap.points);
        const from = (points.at(-1)?.t ?? 0) - WINDOW_S * 1000;
        points = points.filter((p) => p.t >= from);
        draw(points.length ? null : `Collecting: the server samples every ${snap.intervalMs / 1000} s.`);
      } catch (err) {
        if (signal.aborted) return;
        denied = err instanceof ApiError && (err.status === 401 || err.status === 403);
        draw(denied ? 'Charts need a token with the admin scope.' : `History not available: ${(err as Error).message}`);
      }
    },
  };
}
