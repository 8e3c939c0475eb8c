/**
 * One upstream connection of the internal relay: `GET /internal/live/<id>.flv` on the origin node
 * (signed, relay-auth.ts), its FLV demuxed into MediaUnits (FLV 10.1 Annex E and Enhanced RTMP
 * FourCC tags, the same parsers as RTMP ingest). To the registry it is the relayed stream's
 * publisher (`relayFrom` = the node that serves it); to its pull (relay-ingest.ts) it reports the
 * answer, each unit and how the connection ended. A `307`/`308` (a cluster node sending the
 * puller on to the stream's publishing node) is followed with the same signed header, at most
 * MAX_REDIRECTS hops; the node answering after a redirect is accepted whatever its id. node:http
 * rather than fetch: one long response per stream, read as Buffers without web streams.
 */
import http from 'node:http';
import https from 'node:https';
import type { OriginEntry } from '../../cluster/origin-map.js';
import { FlvDemuxer, type FlvTag } from '../formats/flv/flv-demuxer.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { Publisher } from '../stream/stream.js';
import { flvTagUnit } from './flv-tag-unit.js';
import type { RelayStats } from './relay-metrics.js';

/** An upstream that sends nothing this long is dropped (and the origin looked up again). */
const UPSTREAM_STALL_MS = 10_000;
const MAX_TAG_BYTES = 16 * 1024 * 1024;
/** Redirects followed per connection (an edge → any cluster node → the publishing node, plus one for a move). */
const MAX_REDIRECTS = 2;

/** How one upstream connection ended. */
export interface Attempt {
  /** It delivered media (so the relay had a working origin until now). */
  streamed: boolean;
  /** HTTP status of the answer (0: no answer; 404 also when another node answers at that URL). */
  status: number;
  why: string;
  /** The origin's port refused the connection (nothing listens there: the node is down). */
  refused: boolean;
}

/** What an upstream reports to its pull. */
export interface UpstreamHandlers {
  /** The origin answered 200: attach as the stream's publisher; false refuses (a real publisher is here now). */
  accepted(up: RelayUpstream): boolean;
  /** One unit, in order; `meta` is the origin's onMetaData object when the unit carries it. */
  unit(up: RelayUpstream, u: MediaUnit, bytes: number, meta: Record<string, unknown> | null): void;
  /** The registry closed this publisher (a takeover, shutdown). */
  closed(up: RelayUpstream, reason: string): void;
}

let nextUpstreamId = 0;

/** One upstream connection, and the relayed stream's publisher while it is attached. */
export class RelayUpstream implements Publisher {
  readonly id = `relay${(++nextUpstreamId).toString(36)}`;
  /** The URL answering (the entry's, or where a redirect led). */
  remote: string;
  /** The node serving the stream (its `X-Strom-Node`, once accepted). */
  relayFrom: string;
  private req: http.ClientRequest | null = null;

  /** `anyNode`: the entry names a URL, not a node (an edge's origin): whichever node answers there is accepted. */
  constructor(private readonly entry: OriginEntry, private readonly handlers: UpstreamHandlers, private readonly stats: RelayStats, private readonly anyNode = false) {
    this.remote = entry.url;
    this.relayFrom = entry.nodeId;
  }

  /** Close the connection (the registry calls it on a takeover or at shutdown). */
  close(reason: string): void {
    this.destroy();
    this.handlers.closed(this, reason);
  }

  /** Drop the connection without telling anyone (the pull ends it). */
  destroy(): void {
    this.req?.destroy();
  }

  /** Request the stream with `authorization`; resolves when the response or the connection ends. */
  run(streamId: string, authorization: string, fromNode: string, headMs: number): Promise<Attempt> {
    const entry = this.entry;
    return new Promise((resolve) => {
      const attempt: Attempt = { streamed: false, status: 0, why: '', refused: false };
      let done = false;
      const end = (why: string) => {
        if (done) return;
        done = true;
        clearTimeout(headTimer);
        resolve({ ...attempt, why });
      };
      const headTimer = setTimeout(() => this.req?.destroy(new Error(`no answer within ${headMs} ms`)), headMs);
      const open = (url: URL, hops: number) => {
        const req = (url.protocol === 'https:' ? https : http).get(url, { agent: false, headers: { authorization, 'x-strom-node': fromNode } });
        this.req = req;
        req.on('error', (err: NodeJS.ErrnoException) => {
          attempt.refused = err.code === 'ECONNREFUSED';
          end(err.message);
        });
        req.on('response', (res) => {
          attempt.status = res.statusCode ?? 0;
          const location = res.headers.location;
          if ((attempt.status === 307 || attempt.status === 308) && location !== undefined && hops < MAX_REDIRECTS) {
            res.resume();
            const next = URL.canParse(location, url.href) ? new URL(location, url) : null;
            if (next === null || !/^https?:$/.test(next.protocol)) return end(`bad redirect from ${url.origin}: ${JSON.stringify(location)}`);
            this.remote = next.origin;
            return open(next, hops + 1);
          }
          clearTimeout(headTimer);
          const node = res.headers['x-strom-node'];
          const servedBy = typeof node === 'string' ? node : undefined;
          // Without a redirect the entry's node must answer; an edge's origin or a redirect target may be any node.
          const expected = this.anyNode || hops > 0 ? servedBy : entry.nodeId;
          if (attempt.status !== 200 || servedBy === undefined || servedBy !== expected) {
            if (attempt.status === 200) attempt.status = 404; // another node (or no Strom node) answers at that URL now: a stale entry
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => void (body.length < 1024 && (body += d)));
            res.on('end', () => end(`HTTP ${res.statusCode ?? 0} from ${url.origin}${servedBy !== expected ? ` (node ${String(servedBy)})` : ''}: ${body.slice(0, 300)}`));
            res.on('error', (err) => end(err.message));
            return;
          }
          this.relayFrom = servedBy;
          if (!this.handlers.accepted(this)) {
            req.destroy();
            return end('a publisher connected to this node');
          }
          req.setTimeout(UPSTREAM_STALL_MS, () => req.destroy(new Error(`no data for ${UPSTREAM_STALL_MS} ms`)));
          const demux = new FlvDemuxer(MAX_TAG_BYTES);
          res.on('data', (chunk: Buffer) => {
            this.stats.bytesIn += chunk.length;
            let tags: FlvTag[];
            try {
              tags = demux.push(chunk);
            } catch (err) {
              req.destroy(err as Error);
              return;
            }
            for (const tag of tags) this.tag(tag, attempt);
          });
          res.on('end', () => end('the origin ended the response'));
          res.on('close', () => end('the upstream connection closed'));
          res.on('error', (err) => end(err.message));
        });
      };
      if (!URL.canParse(`/internal/live/${streamId}.flv`, entry.url)) return end(`bad advertised URL ${JSON.stringify(entry.url)}`);
      open(new URL(`/internal/live/${streamId}.flv`, entry.url), 0);
    });
  }

  /** One FLV tag → a unit for the pull. */
  private tag(tag: FlvTag, attempt: Attempt): void {
    const read = flvTagUnit(tag);
    if (read === null) return;
    const u = read.unit;
    if (!attempt.streamed && !u.config && u.kind !== 'data') {
      attempt.streamed = true;
      this.stats.connects++;
    }
    this.handlers.unit(this, u, tag.body.length + 15, read.meta);
  }
}
