/**
 * FLV playback over HTTP and WebSocket (FLV 10.1 Annex E; the flv.js / mpegts.js live formats):
 *   GET /live/<streamId>.flv                    → HTTP-FLV, chunked transfer, never ends while live
 *   GET /live/<streamId>.flv + Upgrade: websocket → WS-FLV, one binary message per FLV tag
 * Both write the FLV header and then the stream's shared tag Buffers (built once per unit by
 * `flvTagOf`; over HTTP/1.1 already framed as an HTTP chunk by `httpChunkOf`). HTTP batches a
 * reader's queue into one corked write; when the socket is backed up
 * the reader queues (bounded) until 'drain' — see stream/reader.ts for the slow-reader policy.
 * A stream live on another node of the cluster is pulled here first (`registry.acquire`); the
 * internal relay serves other nodes through the same writer (`sendFlv`).
 */
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { fail, isStromError, type StromError } from '../../errors.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { flvHeader, flvTagOf, httpChunk, httpChunkOf } from '../formats/flv/flv-tags.js';
import type { AddReaderOptions, StreamRegistry } from '../stream/stream-registry.js';
import type { ViewerProtocol } from '../stream/reader.js';

const LAST_CHUNK = Buffer.from('0\r\n\r\n');

const PATH = /^\/live\/([A-Za-z0-9_-]{1,64})\.flv(?:\?.*)?$/;

function headerFor(registry: StreamRegistry, streamId: string): Buffer {
  const t = registry.get(streamId)?.tracks;
  const known = t !== undefined && (t.audio !== undefined || t.video !== undefined);
  return flvHeader(!known || t.audio !== undefined, !known || t.video !== undefined);
}

/**
 * Answer an HTTP request with the FLV of the active stream `streamId` as a reader of `protocol`:
 * the response head with `headers`, the FLV header, then every unit until the stream or the
 * client ends. The caller has checked that the stream is active and hijacked the reply.
 */
export function sendFlv(registry: StreamRegistry, streamId: string, res: FastifyReply['raw'], headers: Record<string, string>, protocol: ViewerProtocol, opts: AddReaderOptions): void {
  if (res instanceof ServerResponse && res.socket !== null) {
    // HTTP/1.1 fast path: the response head goes out through Node, then tags are written to the
    // socket as pre-framed HTTP chunks shared by every viewer (no per-viewer chunk framing).
    const sock = res.socket;
    res.writeHead(200, { ...headers, 'Transfer-Encoding': 'chunked', Connection: 'close' });
    res.flushHeaders();
    sock.setNoDelay(true);
    sock.write(httpChunk(headerFor(registry, streamId)));
    const reader = registry.addReader(streamId, protocol, {
      write(units) {
        sock.cork();
        for (const u of units) sock.write(httpChunkOf(u));
        sock.uncork();
        return !sock.writableNeedDrain;
      },
      close() {
        if (!sock.destroyed) sock.end(LAST_CHUNK);
      },
    }, opts);
    sock.on('drain', () => reader.resume());
    res.on('close', () => reader.close('viewer disconnected'));
    return;
  }
  res.writeHead(200, headers);
  res.write(headerFor(registry, streamId));
  const reader = registry.addReader(streamId, protocol, {
    write(units) {
      res.cork();
      let ok = true;
      for (const u of units) ok = res.write(flvTagOf(u));
      res.uncork();
      return ok;
    },
    close() {
      if (!res.writableEnded) res.end();
    },
  }, opts);
  res.on('drain', () => reader.resume());
  res.on('close', () => reader.close('viewer disconnected'));
}

/** Fastify routes for HTTP-FLV playback. */
export function httpFlvRoutes(registry: StreamRegistry, corsOrigin: string, guard: () => LivePlaybackGuard | null) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { file: string } }>('/live/:file', async (req, reply) => {
      const m = /^([A-Za-z0-9_-]{1,64})\.flv$/.exec(req.params.file);
      if (!m) throw fail('LIVE_STREAM_NOT_FOUND', req.params.file);
      const streamId = m[1]!;
      await guard()?.(req.raw, streamId);
      if (registry.active(streamId) === null && (await registry.acquire(streamId)) === null) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
      const headers: Record<string, string> = { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache, no-store', 'x-request-id': String(req.id) };
      if (corsOrigin !== '') headers['Access-Control-Allow-Origin'] = corsOrigin;
      reply.hijack();
      sendFlv(registry, streamId, reply.raw, headers, 'http-flv', { audioCodec: 'aac' /* flv.js/mpegts.js cannot decode Opus in FLV */ });
    });
  };
}

/** Accept WS-FLV upgrades on `/live/<streamId>.flv`; returns a function that detaches it. */
export function attachWsFlv(server: Server, registry: StreamRegistry, log: Logger, guard: () => LivePlaybackGuard | null): () => void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const m = PATH.exec(req.url ?? '');
    if (!m) return; // not ours: other upgrade handlers may take it
    const streamId = m[1]!;
    const refuse = (e: StromError) => {
      socket.end(`HTTP/1.1 ${e.statusCode} Refused\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify(e.toJSON())}`);
    };
    new Promise<void>((resolve) => resolve(guard()?.(req, streamId))).then(async () => { // sync throws become rejections
      if (registry.active(streamId) === null && (await registry.acquire(streamId)) === null) return refuse(fail('LIVE_STREAM_NOT_FOUND', streamId));
      upgrade(req, socket, head, streamId);
    }).catch((err: unknown) => refuse(isStromError(err) ? err : fail('INTERNAL', 'playback guard failed')));
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, streamId: string) => {
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      try {
        ws.send(headerFor(registry, streamId));
        const reader = registry.addReader(streamId, 'ws-flv', {
          write(units) {
            for (const u of units) ws.send(flvTagOf(u), { binary: true });
            return socket.writableLength < socket.writableHighWaterMark;
          },
          close(reason) {
            ws.close(1000, reason.slice(0, 120));
          },
        }, { audioCodec: 'aac' /* flv.js/mpegts.js cannot decode Opus in FLV */ });
        socket.on('drain', () => reader.resume());
        ws.on('close', () => reader.close('viewer disconnected'));
        ws.on('error', () => reader.close('websocket error'));
      } catch (err) {
        if (!isStromError(err)) log.error({ err }, 'ws-flv join failed');
        ws.close(1011, 'stream not live');
      }
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
