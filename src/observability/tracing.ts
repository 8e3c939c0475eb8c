/**
 * OpenTelemetry tracing, exported over OTLP/HTTP (JSON) when `tracing.otlpEndpoint` is set and a
 * no-op otherwise (no provider, no spans, no allocation). Strom creates its own tracer provider
 * rather than a global one, so several processes in one test run stay apart; parents are passed
 * explicitly, no context manager needed. Spans:
 * - one per API request (`GET /api/v1/videos/:id`), child of an incoming W3C `traceparent`;
 * - one trace per video: root `video <id>` from `video.created` (or the first progress event) to
 *   ready/errored/deleted, children `upload` (created → processing starts), `probe`, `transcode`,
 *   `package` from the engine's progress phases;
 * - live: one span per publish session (`live.publish`) and per viewer (`live.view`).
 */
import { context as otelContext, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { optionalModule } from '../optional-module.js';
import type { BusEvent, EventMap } from '../events/event-bus.js';
import type { LiveEventMap } from '../live/stream/live-events.js';

const MAX_OPEN = 1000;

interface VideoTrace {
  root: Span;
  ctx: Context;
  phase: Span | null;
  phaseName: string;
}

/** Tracing of one process; every method is a cheap no-op when disabled. */
export class Tracing {
  readonly enabled: boolean;
  private readonly provider: BasicTracerProvider | null = null;
  private readonly tracer: Tracer | null = null;
  private readonly videos = new Map<string, VideoTrace>();
  private readonly live = new Map<string, Span>();

  constructor(o: { otlpEndpoint: string | null; serviceName: string }) {
    this.enabled = o.otlpEndpoint !== null && o.otlpEndpoint !== '';
    if (!this.enabled) return;
    const base = o.otlpEndpoint!.replace(/\/+$/, '');
    const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
    // The SDK and exporter are loaded only when tracing is on (optional-module.ts).
    const { BasicTracerProvider: Provider, BatchSpanProcessor } = optionalModule<typeof TraceBase>('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } = optionalModule<typeof OtlpHttp>('@opentelemetry/exporter-trace-otlp-http');
    this.provider = new Provider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName, [ATTR_SERVICE_VERSION]: '0.1.0' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })],
    });
    this.tracer = this.provider.getTracer('strom');
  }

  /** Start the span of one API request; `traceparent` (W3C) makes it a child of the caller's trace. */
  startRequest(method: string, route: string, traceparent: string | undefined): Span | null {
    if (this.tracer === null) return null;
    const parent = parseTraceparent(traceparent);
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    return this.tracer.startSpan(`${method} ${route}`, { kind: 1 /* SERVER */, attributes: { 'http.request.method': method, 'http.route': route } }, ctx);
  }

  /** End a request span with its status code. */
  endRequest(span: Span, status: number, attrs: Record<string, string | number>): void {
    span.setAttributes({ 'http.response.status_code': status, ...attrs });
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /** Follow a video through upload → probe → transcode → package (bus events). */
  onBusEvent(e: BusEvent): void {
    if (this.tracer === null) return;
    switch (e.type) {
      case 'video.created': {
        const d = e.data as EventMap['video.created'];
        this.videoTrace(d.videoId, 'upload');
        break;
      }
      case 'video.progress': {
        const d = e.data as EventMap['video.progress'];
        if (d.phase === 'done') break;
        const v = this.videoTrace(d.videoId, d.phase);
        if (v.phaseName !== d.phase) this.phase(v, d.phase);
        if (d.speed !== undefined && d.speed > 0) v.phase?.setAttribute('transcode.speed', d.speed);
        break;
      }
      case 'video.ready':
      case 'video.errored':
      case 'video.deleted': {
        const d = e.data as { videoId: string; code?: string; message?: string };
        const v = this.videos.get(d.videoId);
        if (!v) break;
        this.videos.delete(d.videoId);
        v.phase?.end();
        if (e.type === 'video.errored') v.root.setStatus({ code: SpanStatusCode.ERROR, message: `${d.code}: ${d.message}` });
        v.root.setAttribute('video.outcome', e.type.slice(6));
        v.root.end();
        break;
      }
      default:
    }
  }

  /** Live publish sessions and viewers as spans (live server events). */
  onLiveEvent<K extends keyof LiveEventMap>(name: K, e: LiveEventMap[K]): void {
    if (this.tracer === null) return;
    if (name === 'publish.start') {
      const d = e as LiveEventMap['publish.start'];
      this.openLive(`p:${d.sessionId}`, this.tracer.startSpan('live.publish', { attributes: { 'live.stream_id': d.streamId, 'live.session_id': d.sessionId, 'live.takeover': d.takeover } }, ROOT_CONTEXT));
    } else if (name === 'publish.stop') {
      const d = e as LiveEventMap['publish.stop'];
      const s = this.live.get(`p:${d.sessionId}`);
      this.live.delete(`p:${d.sessionId}`);
      s?.setAttributes({ 'live.stop_reason': d.reason, 'live.bytes_in': d.bytesIn });
      s?.end();
    } else if (name === 'viewer.join') {
      const d = e as LiveEventMap['viewer.join'];
      this.openLive(`v:${d.viewerId}`, this.tracer.startSpan('live.view', { attributes: { 'live.stream_id': d.streamId, 'live.viewer_id': d.viewerId, 'live.protocol': d.protocol } }, ROOT_CONTEXT));
    } else if (name === 'viewer.leave') {
      const d = e as LiveEventMap['viewer.leave'];
      const s = this.live.get(`v:${d.viewerId}`);
      this.live.delete(`v:${d.viewerId}`);
      s?.setAttributes({ 'live.leave_reason': d.reason, 'live.drops': d.drops });
      s?.end();
    }
  }

  /** Export everything finished so far (tests, shutdown). */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /** End open spans and flush. */
  async shutdown(): Promise<void> {
    if (this.provider === null) return;
    for (const v of this.videos.values()) {
      v.phase?.end();
      v.root.end();
    }
    for (const s of this.live.values()) s.end();
    this.videos.clear();
    this.live.clear();
    await this.provider.shutdown().catch(() => undefined);
  }

  private openLive(key: string, span: Span): void {
    this.live.set(key, span);
    if (this.live.size > MAX_OPEN) {
      const [k, s] = this.live.entries().next().value!;
      this.live.delete(k);
      s.end();
    }
  }

  private videoTrace(videoId: string, firstPhase: string): VideoTrace {
    let v = this.videos.get(videoId);
    if (v) return v;
    const root = this.tracer!.startSpan(`video ${videoId}`, { attributes: { 'video.id': videoId } }, ROOT_CONTEXT);
    v = { root, ctx: trace.setSpan(otelContext.active(), root), phase: null, phaseName: '' };
    this.videos.set(videoId, v);
    if (this.videos.size > MAX_OPEN) {
      const [k, old] = this.videos.entries().next().value!;
      this.videos.delete(k);
      old.phase?.end();
      old.root.end();
    }
    this.phase(v, firstPhase);
    return v;
  }

  private phase(v: VideoTrace, name: string): void {
    v.phase?.end();
    v.phaseName = name;
    v.phase = this.tracer!.startSpan(name, {}, v.ctx);
  }
}

/** W3C trace context (`00-<trace-id>-<parent-id>-<flags>`) → span context, or null. */
function parseTraceparent(h: string | undefined) {
  if (h === undefined) return null;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(h.trim());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return null;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}
