/**
 * Accounting of media responses, shared by both delivery paths and both kinds of process: the
 * node:http path (the delivery handler's MediaObserver) and the lean HTTP/1.1 path (its `done`),
 * in the main and in each delivery worker. Every response is one observation in the request
 * metrics; its CMCD data (CTA-5004), when present, goes to `onCmcd` (the QoE tracker in the main,
 * a batch for the main in a worker); every `every`-th response is written to the access log
 * (`log.accessMediaEvery`; media is sampled because it is most of the traffic).
 */
import type { Logger } from 'pino';
import type { AnyRequest, AnyResponse } from '../http-message.js';
import { cmcdOf, hasCmcd, type Cmcd } from './cmcd.js';
import { MEDIA_GROUP, type StromMetrics } from './metrics.js';

/** Observer the delivery fast path calls once per finished media response. */
export interface MediaObserver {
  /** `bytes`: bytes the HTTP/1 socket wrote for this response, or -1 on HTTP/2 (Content-Length is used). */
  done(req: AnyRequest, res: AnyResponse, startMs: number, bytes: number): void;
}

/** Content id of a media or live URL: `/v/<id>/…`, `/s/<token>/<id>/…`, `/live/<id>.flv`, `/api/v1/video/stream/<id>`. */
export function contentIdOf(url: string): string | null {
  const q = url.indexOf('?');
  const p = q < 0 ? url : url.slice(0, q);
  const parts = p.split('/');
  let id: string | undefined;
  if (parts[1] === 'v') id = parts[2];
  else if (parts[1] === 's') id = parts[3];
  else if (parts[1] === 'live') id = parts[2]?.replace(/\.[a-z0-9]+$/i, '');
  else if (parts[1] === 'api' && parts[3] === 'video' && parts[4] === 'stream') id = parts[5];
  return id !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
}

/** Request path without the query (which can hold tokens), bounded. */
export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).slice(0, 256);
}

/** Counts, measures and samples the media responses of one process. */
export class MediaAccounting {
  /** Media responses finished in this process since it started. */
  responses = 0;
  /** The node:http path's observer (Delivery.setObserver). */
  readonly observer: MediaObserver;

  constructor(
    private readonly metrics: StromMetrics,
    private readonly accessLog: Logger,
    /** Log one response in `every` (0 = none: `n % 0` is NaN, never 0). */
    private readonly every: number,
    onCmcd: (cmcd: Cmcd, contentId: string) => void,
  ) {
    this.observer = {
      done: (req, res, startMs, bytes) => {
        const status = res.statusCode;
        const ms = performance.now() - startMs;
        if (bytes < 0) bytes = Number(res.getHeader('content-length')) || 0;
        this.metrics.observeHttp(MEDIA_GROUP, status, ms / 1000, bytes);
        if (hasCmcd(req)) {
          const c = cmcdOf(req);
          const id = contentIdOf(req.url ?? '/');
          if (c !== null && id !== null) onCmcd(c, id);
        }
        if (++this.responses % this.every === 0) {
          this.log({ reqId: req.headers['x-request-id'], method: req.method, path: pathOnly(req.url ?? '/'), status, bytes, ms, httpVersion: req.httpVersion });
        }
      },
    };
  }

  /** One response of the lean HTTP/1.1 path (LeanContext.done): always HTTP/1.1, never CMCD. */
  lean(method: string, path: string, status: number, bytes: number, ms: number): void {
    this.metrics.observeHttp(MEDIA_GROUP, status, ms / 1000, bytes);
    if (++this.responses % this.every === 0) this.log({ method, path, status, bytes, ms, httpVersion: '1.1' });
  }

  private log(r: { reqId?: string | string[]; method?: string; path: string; status: number; bytes: number; ms: number; httpVersion: string }): void {
    this.accessLog.info({ reqId: r.reqId, method: r.method, group: 'media', path: r.path, status: r.status, bytes: r.bytes, durationMs: Math.round(r.ms * 1000) / 1000, httpVersion: r.httpVersion }, 'access');
  }
}
