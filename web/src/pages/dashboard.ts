/**
 * `#/dashboard`: operations at a glance, refreshed every 2 s. From `GET /metrics` (Prometheus
 * text, scraped with the API token): requests per second, P95/P99 latency and 5xx rate over the
 * last interval, computed from the difference of two scrapes; active streams and viewers from
 * live gauges or the live-stream API; library counts; a QoE summary when the API offers one.
 */
import { api, ApiError, getToken, type LiveStream, type Page, type Video } from '../api.js';
import { h } from '../dom.js';
import { buckets, diffBuckets, findRequestHistogram, isServerError, parseProm, quantile, sum, type Sample } from '../prom.js';

interface Scrape {
  at: number;
  samples: Sample[];
}

const fmtMs = (s: number | null) => (s === null ? '—' : s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`);

function tile(id: string, label: string): { el: HTMLElement; set(v: string): void } {
  const value = h('dd', { id: `m-${id}`, class: 'value' }, '—');
  return { el: h('div', { class: 'tile' }, h('dt', {}, label), value), set: (v) => void (value.textContent = v) };
}

async function scrape(signal: AbortSignal): Promise<Scrape | string> {
  const res = await fetch('/metrics', { headers: { authorization: `Bearer ${getToken() ?? ''}` }, signal, cache: 'no-store' });
  if (!res.ok) return `HTTP ${res.status}`;
  return { at: performance.now(), samples: parseProm(await res.text()) };
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
  main.append(
    h('h1', {}, 'Dashboard'),
    h('section', { 'aria-labelledby': 'traffic-h' }, h('h2', { id: 'traffic-h' }, 'Traffic'), h('dl', { class: 'tiles' }, t.qps.el, t.p95.el, t.p99.el, t.err.el, t.total.el), note),
    h('section', { 'aria-labelledby': 'content-h' }, h('h2', { id: 'content-h' }, 'Streams and library'), h('dl', { class: 'tiles' }, t.streams.el, t.viewers.el, t.videos.el, t.processing.el)),
    h('section', { 'aria-labelledby': 'qoe-h' }, h('h2', { id: 'qoe-h' }, 'Quality of experience'), qoe),
    updated,
  );

  let prev: Scrape | null = null;
  const tick = async () => {
    const m = await scrape(signal).catch((e: Error) => e.message);
    let liveFromMetrics: { streams: number | null; viewers: number | null } = { streams: null, viewers: null };
    if (typeof m === 'string') {
      note.textContent = `Server metrics unavailable (/metrics: ${m}); traffic figures need them.`;
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
          const window = diffBuckets(buckets(prev.samples, base), buckets(m.samples, base));
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
    await renderQoe(videos.items, signal);
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };

  async function renderQoe(videos: Video[], sig: AbortSignal): Promise<void> {
    // An aggregate endpoint if the metrics work provides one, else the newest ready videos' summaries.
    const agg = await api<Record<string, unknown>>('GET', '/api/v1/qoe', undefined, sig).catch(() => null);
    const rows: HTMLElement[] = [];
    const show = (label: string, o: Record<string, unknown>) => {
      const nums = Object.entries(o).filter(([, v]) => typeof v === 'number').slice(0, 6);
      if (nums.length) rows.push(h('dt', {}, label), h('dd', {}, nums.map(([k, v]) => `${k}: ${Number.isInteger(v) ? v : (v as number).toFixed(3)}`).join(' · ')));
    };
    if (agg) show('All videos', agg);
    else {
      for (const v of videos.filter((x) => x.status === 'ready').slice(0, 4)) {
        const q = await api<Record<string, unknown>>('GET', `/api/v1/videos/${encodeURIComponent(v.id)}/qoe`, undefined, sig).catch((e: unknown) => (e instanceof ApiError ? null : null));
        if (q) show(v.title || v.id, (q.summary as Record<string, unknown> | undefined) ?? q);
      }
    }
    qoe.replaceChildren(...(rows.length ? rows : [h('dd', {}, 'No QoE reports yet (players send CMCD; summaries appear once the server aggregates them).')]));
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
