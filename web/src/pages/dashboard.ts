/**
 * `#/dashboard`: operations at a glance, refreshed every 2 s. From `GET /metrics` (Prometheus
 * text, scraped with the API token): requests per second, P95/P99 latency and 5xx rate over the
 * last interval, computed from the difference of two scrapes; active streams and viewers from
 * live gauges or the live-stream API; library counts; a QoE summary when the API offers one.
 * Below the tiles, charts of the last 15 minutes from the server's sampled history
 * (`GET /api/v1/metrics/history`, metrics-charts.ts, loaded with uPlot only on this page).
 */
import { api, fetchMetrics, type LiveStream, type Page, type Video } from '../api.js';
import { h } from '../dom.js';
import { buckets, diffBuckets, findRequestHistogram, isServerError, parseProm, quantile, sum, type Sample } from '../prom.js';

/** `GET /api/v1/videos/:id/qoe` (the fields shown). */
interface Qoe {
  sessions: number;
  startupMs?: number | null;
  rebufferRatio?: number;
  avgBitrateKbps?: number | null;
}

interface Scrape {
  at: number;
  samples: Sample[];
}

/** Long-lived responses (event streams, live FLV) would swamp request latency: leave them out of P95/P99. */
const shortLived = (l: Record<string, string>) => l.group !== 'events' && l.group !== 'live';

const fmtMs = (s: number | null) => (s === null ? '—' : s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`);

function tile(id: string, label: string): { el: HTMLElement; set(v: string): void } {
  const value = h('dd', { id: `m-${id}`, class: 'value' }, '—');
  return { el: h('div', { class: 'tile' }, h('dt', {}, label), value), set: (v) => void (value.textContent = v) };
}

async function scrape(signal: AbortSignal): Promise<Scrape | string> {
  const text = await fetchMetrics(signal);
  return text === null ? 'not available (absent, or this token lacks admin)' : { at: performance.now(), samples: parseProm(text) };
}

/** First gauge whose name matches `re`, summed over its labels; null when absent. */
function gauge(samples: Sample[], re: RegExp): number | null {
  const name = samples.find((s) => re.test(s.name))?.name;
  return name ? sum(samples, name) : null;
}

/** Render the dashboard. */
export async function dashboardPage(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const t = {
    qps: tile('qps', 'Requests / s'),
    p95: tile('p95', 'P95 latency'),
    p99: tile('p99', 'P99 latency'),
    err: tile('errors', 'Error rate (5xx)'),
    total: tile('requests', 'Requests served'),
    streams: tile('streams', 'Active live streams'),
    viewers: tile('viewers', 'Live viewers'),
    videos: tile('videos', 'Videos (ready / all)'),
    processing: tile('processing', 'Processing'),
  };
  const note = h('p', { class: 'hint', id: 'metrics-note', 'aria-live': 'polite' });
  const qoe = h('dl', { class: 'facts', id: 'qoe' });
  const updated = h('p', { class: 'hint', id: 'updated' });
  const chartBox = h('div', { class: 'charts', id: 'charts' });
  main.append(
    h('h1', {}, 'Dashboard'),
    h('section', { 'aria-labelledby': 'traffic-h' }, h('h2', { id: 'traffic-h' }, 'Traffic'), h('dl', { class: 'tiles' }, t.qps.el, t.p95.el, t.p99.el, t.err.el, t.total.el), note),
    h('section', { 'aria-labelledby': 'content-h' }, h('h2', { id: 'content-h' }, 'Streams and library'), h('dl', { class: 'tiles' }, t.streams.el, t.viewers.el, t.videos.el, t.processing.el)),
    h('section', { 'aria-labelledby': 'qoe-h' }, h('h2', { id: 'qoe-h' }, 'Quality of experience'), qoe),
    h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, 'Last 15 minutes'), chartBox),
    updated,
  );
  const charts = import('../metrics-charts.js').then((c) => c.mountHistoryCharts(chartBox, signal)).catch((err: unknown) => {
    chartBox.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Charts could not load: ${(err as Error).message}`));
    return null;
  });

  let prev: Scrape | null = null;
  const tick = async () => {
    const history = charts.then((c) => c?.refresh());
    const m = await scrape(signal);
    let liveFromMetrics: { streams: number | null; viewers: number | null } = { streams: null, viewers: null };
    if (typeof m === 'string') {
      note.textContent = `Server metrics ${m}; traffic figures need /metrics.`;
    } else {
      const base = findRequestHistogram(m.samples);
      if (base) {
        note.textContent = `From ${base} (window: since the previous scrape).`;
        const count = sum(m.samples, `${base}_count`);
        t.total.set(String(Math.round(count)));
        if (prev) {
          const dt = (m.at - prev.at) / 1000;
          const dCount = Math.max(0, count - sum(prev.samples, `${base}_count`));
          const dErr = Math.max(0, sum(m.samples, `${base}_count`, isServerError) - sum(prev.samples, `${base}_count`, isServerError));
          const window = diffBuckets(buckets(prev.samples, base, shortLived), buckets(m.samples, base, shortLived));
          t.qps.set(dt > 0 ? (dCount / dt).toFixed(1) : '—');
          t.p95.set(fmtMs(quantile(0.95, window)));
          t.p99.set(fmtMs(quantile(0.99, window)));
          t.err.set(dCount > 0 ? `${((dErr / dCount) * 100).toFixed(1)} %` : '0 %');
        }
      } else note.textContent = 'No HTTP request histogram in /metrics yet.';
      liveFromMetrics = { streams: gauge(m.samples, /live.*(active_streams|streams_active|publishers)/), viewers: gauge(m.samples, /live.*viewers/) };
      prev = m;
    }
    const [videos, streams] = await Promise.all([
      api<Page<Video>>('GET', '/api/v1/videos?limit=100', undefined, signal),
      api<Page<LiveStream>>('GET', '/api/v1/live-streams?limit=100', undefined, signal).catch(() => null),
    ]);
    t.videos.set(`${videos.items.filter((v) => v.status === 'ready').length} / ${videos.items.length}${videos.nextCursor ? '+' : ''}`);
    t.processing.set(String(videos.items.filter((v) => v.status === 'processing' || v.status === 'queued').length));
    const active = streams?.items.filter((s) => s.status === 'active' || s.live?.state === 'active') ?? [];
    t.streams.set(String(liveFromMetrics.streams ?? (streams ? active.length : '—')));
    const apiViewers = active.reduce((n, s) => n + (s.live?.viewers?.total ?? (typeof s.viewers === 'number' ? s.viewers : s.viewers?.total ?? 0)), 0);
    t.viewers.set(String(liveFromMetrics.viewers ?? apiViewers));
    await renderQoe(typeof m === 'string' ? null : m.samples, videos.items, signal);
    await history;
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };

  async function renderQoe(samples: Sample[] | null, videos: Video[], sig: AbortSignal): Promise<void> {
    const rows: HTMLElement[] = [];
    const line = (label: string, parts: (string | null)[]) => rows.push(h('dt', {}, label), h('dd', {}, parts.filter(Boolean).join(' · ') || '—'));
    // All content, from the CMCD aggregates in /metrics (src/observability/qoe.ts).
    if (samples?.some((x) => x.name.startsWith('strom_qoe_'))) {
      const startup = quantile(0.5, buckets(samples, 'strom_qoe_startup_seconds'));
      const brCount = sum(samples, 'strom_qoe_bitrate_kbps_count');
      line('All playback', [
        `${sum(samples, 'strom_qoe_sessions_total')} sessions (${sum(samples, 'strom_qoe_active_sessions')} active)`,
        startup === null ? null : `startup P50 ${fmtMs(startup)}`,
        `${sum(samples, 'strom_qoe_rebuffers_total')} rebuffers`,
        brCount ? `avg ${Math.round(sum(samples, 'strom_qoe_bitrate_kbps_sum') / brCount)} kb/s` : null,
        `${sum(samples, 'strom_qoe_bitrate_switches_total')} switches`,
      ]);
    }
    // The newest ready videos, from GET /api/v1/videos/:id/qoe.
    for (const v of videos.filter((x) => x.status === 'ready').slice(0, 4)) {
      const q = await api<Qoe>('GET', `/api/v1/videos/${encodeURIComponent(v.id)}/qoe`, undefined, sig).catch(() => null);
      if (!q) continue;
      line(v.title || v.id, [
        `${q.sessions} sessions`,
        q.startupMs === null || q.startupMs === undefined ? null : `startup ${Math.round(q.startupMs)} ms`,
        `rebuffer ${((q.rebufferRatio ?? 0) * 100).toFixed(1)} %`,
        q.avgBitrateKbps ? `avg ${Math.round(q.avgBitrateKbps)} kb/s` : null,
      ]);
    }
    qoe.replaceChildren(...(rows.length ? rows : [h('dd', {}, 'No QoE data yet (players report it with CMCD).')]));
  }

  await tick();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void tick().catch(() => undefined).finally(() => (busy = false));
  }, 2000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
