/**
 * `GET /api/v1/events`: the event bus as Server-Sent Events (WHATWG HTML §9.2). Filters:
 * `?videoId=` / `?streamId=` (one subject) and `?types=a,b`. Each event carries `id:` so a client
 * that reconnects with `Last-Event-ID` receives what it missed (from the bus's bounded history; in
 * cluster mode the ids are cluster-wide, so the reconnect may reach any node). Without the header
 * the client gets the history; with an id that is not an event id, only new events.
 * A comment line every `heartbeatMs` (15 s) keeps proxies from closing an idle stream.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { subjectOf, type BusEvent, type EventBus } from '../../events/event-bus.js';

/** Options for the SSE route. */
export interface SseOptions {
  bus: EventBus;
  heartbeatMs?: number;
  /** Max bytes queued for one slow client before it is disconnected. */
  maxQueuedBytes?: number;
}

function frame(e: BusEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e.data, at: e.at })}\n\n`;
}

/** Register the SSE route. */
export function sseRoutes(o: SseOptions) {
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const maxQueued = o.maxQueuedBytes ?? 1024 * 1024;
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get('/api/v1/events', async (req: FastifyRequest<{ Querystring: { videoId?: string; streamId?: string; types?: string } }>, reply: FastifyReply) => {
      const subject = req.query.videoId ?? req.query.streamId;
      const types = req.query.types ? new Set(req.query.types.split(',')) : null;
      const wanted = (e: BusEvent) => (subject === undefined || subjectOf(e) === subject) && (types === null || types.has(e.type));
      const rawLast = req.headers['last-event-id'] ?? (req.query as { lastEventId?: unknown }).lastEventId;
      const lastId = typeof rawLast === 'string' && rawLast.trim() !== '' ? rawLast.trim() : null;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        'x-request-id': String(req.id),
        ...(req.raw.httpVersionMajor === 1 ? { Connection: 'keep-alive' } : {}),
      });
      res.write(`retry: 2000\n: connected\n\n`);
      for (const e of o.bus.since(lastId)) if (wanted(e)) res.write(frame(e));
      const send = (e: BusEvent) => {
        if (!wanted(e)) return;
        if (res.writableLength > maxQueued) return void res.destroy(); // a client that stopped reading
        res.write(frame(e));
      };
      const unsubscribe = o.bus.subscribe(send);
      const beat = setInterval(() => res.write(`: heartbeat\n\n`), heartbeatMs);
      res.on('close', () => {
        clearInterval(beat);
        unsubscribe();
      });
    });
  };
}
