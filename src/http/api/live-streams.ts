/**
 * `/api/v1/live-streams`: create (returns the stream key and full RTMP ingest URL), list, get,
 * patch, rotate key, delete, and playback tokens for signed streams. The live engine finds a
 * publisher's stream with `store.liveStreams.findLiveStreamByKey(key)`.
 */
import type { FastifyInstance } from 'fastify';
import type { LiveStreamStatus } from '../../live/stream/stream-registry.js';
import type { Config } from '../../config.js';
import { fail } from '../../errors.js';
import type { LiveStreamRow } from '../../store/db/schema.js';
import type { SourceStatus } from '../../live/pull/pull-manager.js';
import { iso, type ApiContext } from './context.js';
import { maskSourceUrl } from '../../live/pull/connector/source-url.js';
import { checkExpectedViewers, parseScheduledStart } from './live-schedule.js';
import { errors, IdParams, ListQuery, LiveStream, LiveStreamCreate, LiveStreamList, LiveStreamPatch, PlaybackToken, PlaybackTokenRequest } from './schemas.js';

/** Base of RTMP ingest URLs: `live.rtmpPublicUrl`, else rtmp://<publicUrl host or host>:<rtmp.port>/live. */
export function rtmpBase(config: Config, port: number = config.rtmp.port): string {
  if (config.live.rtmpPublicUrl) return config.live.rtmpPublicUrl.replace(/\/+$/, '');
  let host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  if (config.publicUrl) host = new URL(config.publicUrl).hostname;
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `rtmp://${host}:${port}/live`;
}

/** Base of SRT URLs (`srt.publicUrl`, else srt://<publicUrl host or host>:<srt port>), or null when SRT is off. */
export function srtBase(config: Config, port: number | null): string | null {
  if (!config.srt.enabled) return null;
  if (config.srt.publicUrl) return config.srt.publicUrl.replace(/\/+$/, '');
  const host = new URL(rtmpBase(config)).host.replace(/:\d+$/, '');
  return `srt://${host}:${port ?? config.srt.port}`;
}

/** Base of RTSP URLs (`rtsp.publicUrl`, else rtsp://<publicUrl host or host>:<rtsp port>/live), or null when RTSP is off. */
export function rtspBase(config: Config, port: number | null): string | null {
  if (!config.rtsp.enabled) return null;
  if (config.rtsp.publicUrl) return config.rtsp.publicUrl.replace(/\/+$/, '');
  const host = new URL(rtmpBase(config)).host.replace(/:\d+$/, '');
  return `rtsp://${host}:${port ?? config.rtsp.port}/live`;
}

/** Playback URLs of a live stream: HTTP paths, and the SRT / RTSP reader URLs when given their bases (`token` appended for signed streams). */
export function livePlayback(id: string, token?: string, srt?: string | null, rtsp?: string | null): { flv: string; hls: string; dash: string; whep: string; thumbnail: string; srt?: string; rtsp?: string } {
  const q = token ? `?token=${token}` : '';
  const urls = { flv: `/live/${id}.flv${q}`, hls: `/live/${id}/index.m3u8${q}`, dash: `/live/${id}/manifest.mpd${q}`, whep: `/live/${id}/whep${q}`, thumbnail: `/live/${id}/thumbnail.jpg${q}` };
  return {
    ...urls,
    // SRT Access Control stream id (libsrt docs/features/access-control.md); the token rides as a custom key.
    ...(srt ? { srt: `${srt}?streamid=#!::r=${id},m=request${token ? `,token=${token}` : ''}` } : {}),
    ...(rtsp ? { rtsp: `${rtsp}/${id}${q}` } : {}),
  };
}

/** The API's JSON shape of a live stream row. */
export function liveStreamJson(r: LiveStreamRow, config: Config, port?: number, runtime: LiveStreamStatus | null = null, srtPort: number | null = null, rtspPort: number | null = null, source: SourceStatus | null = null) {
  const active = runtime !== null && runtime.state === 'active';
  const srt = srtBase(config, srtPort);
  const rtsp = rtspBase(config, rtspPort);
  return {
    id: r.id,
    title: r.title,
    streamKey: r.stream_key,
    visibility: r.visibility,
    status: active ? ('active' as const) : r.status,
    record: r.record === 1,
    abr: r.abr === 1,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    ingest: {
      rtmp: `${rtmpBase(config, port)}/${r.stream_key}`,
      whip: `${(config.publicUrl ?? '').replace(/\/+$/, '')}/whip`, // the publisher sends Authorization: Bearer <streamKey>
      ...(srt ? { srt: `${srt}?streamid=#!::r=${r.stream_key},m=publish` } : {}),
      ...(rtsp ? { rtsp: `${rtsp}/${r.stream_key}` } : {}), // the RTMP ingest path shape: /live/<streamKey>
    },
    srtEncrypted: (r.srt_passphrase ?? config.srt.passphrase) !== null,
    playback: livePlayback(r.id, undefined, srt, rtsp),
    source,
    scheduledStart: r.scheduled_start === null ? null : iso(r.scheduled_start),
    expectedViewers: r.expected_viewers,
    live: active ? {
      publishedAt: runtime.publishedAt, ingestBitrate: runtime.ingestBitrate, fps: runtime.fps,
      video: runtime.video, audio: runtime.audio, viewers: runtime.viewers, drops: runtime.drops,
      publisher: runtime.publisher, standby: runtime.standby ?? null, slate: runtime.slate ?? null, // another node's status may predate these fields
      // Cluster: the publisher's node, and whether this node's figures describe it (its own publisher, its relay of it, or nothing).
      node: runtime.originNode, figures: runtime.originNode === null ? 'local' as const : runtime.publisher !== null ? 'relay' as const : 'unknown' as const,
    } : null,
  };
}

const security = [{ bearer: [] }];
const tags = ['live'];

/** Register the live stream routes (scope live:write: responses carry stream keys). */
export function liveStreamsRoutes(ctx: ApiContext) {
  const { store, config } = ctx;
  const json = async (r: LiveStreamRow) => liveStreamJson(r, config, ctx.rtmpPort(), await ctx.liveStatus(r.id), ctx.srtPort(), ctx.rtspPort(), r.source ? await sourceStatus(r) : null);
  /** The source's runtime status; the stored row alone before the live server is wired. */
  const sourceStatus = async (r: LiveStreamRow): Promise<SourceStatus | null> => {
    return (await ctx.pull()?.status(r.id)) ?? { url: maskSourceUrl(r.source!), onDemand: r.source_on_demand !== 0, state: 'idle', since: null, reason: null, protocol: null };
  };
  /** Throws LIVE_SOURCE_BAD_URL / LIVE_SOURCE_SCHEME_UNSUPPORTED for a source no connector can pull. */
  const checkSource = (url: string | null | undefined) => {
    if (url) ctx.pull()?.validate(url);
  };
  const must = async (id: string) => {
    const r = await store.liveStreams.get(id);
    if (!r) throw fail('LIVE_STREAM_NOT_FOUND', id);
    return r;
  };
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Body: LiveStreamCreate }>('/api/v1/live-streams', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Create a live stream (returns its stream key and ingest URL); with `source`, one pulled from a URL', security, body: LiveStreamCreate, response: { 201: LiveStream, ...errors(400, 401, 403) } },
    }, async (req, reply) => {
      const b = req.body ?? {};
      checkSource(b.source);
      const schedule = { scheduledStart: parseScheduledStart(b.scheduledStart, Date.now()), expectedViewers: checkExpectedViewers(b.expectedViewers) };
      const row = await store.liveStreams.create({ title: b.title, visibility: b.visibility, record: b.record, abr: b.abr, srtPassphrase: b.srtPassphrase, source: b.source, sourceOnDemand: b.sourceOnDemand, ...schedule });
      if (row.source) await ctx.pull()?.changed(row.id); // an always-on source connects now
      return reply.code(201).send(await json(row));
    });

    app.get<{ Querystring: ListQuery }>('/api/v1/live-streams', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'List live streams, newest first', security, querystring: ListQuery, response: { 200: LiveStreamList, ...errors(400, 401, 403) } },
    }, async (req) => {
      try {
        const page = await store.liveStreams.list({ limit: req.query.limit, afterId: req.query.cursor });
        return { items: await Promise.all(page.items.map(json)), nextCursor: page.nextCursor };
      } catch (err) {
        if (err instanceof RangeError) throw fail('VALIDATION_FAILED', 'querystring', 'cursor is not a cursor from this API');
        throw err;
      }
    });

    app.get<{ Params: IdParams }>('/api/v1/live-streams/:id', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Get a live stream', security, params: IdParams, response: { 200: LiveStream, ...errors(401, 403, 404) } },
    }, async (req) => json(await must(req.params.id)));

    app.patch<{ Params: IdParams; Body: LiveStreamPatch }>('/api/v1/live-streams/:id', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Change title, visibility, recording, live ABR, the pulled source or the schedule (scheduledStart, expectedViewers)', security, params: IdParams, body: LiveStreamPatch, response: { 200: LiveStream, ...errors(400, 401, 403, 404) } },
    }, async (req) => {
      checkSource(req.body.source);
      const schedule = { scheduledStart: parseScheduledStart(req.body.scheduledStart, Date.now()), expectedViewers: checkExpectedViewers(req.body.expectedViewers) };
      const row = await store.liveStreams.update(req.params.id, { ...req.body, ...schedule });
      if (!row) throw fail('LIVE_STREAM_NOT_FOUND', req.params.id);
      if (req.body.source !== undefined || req.body.sourceOnDemand !== undefined) await ctx.pull()?.changed(row.id);
      return json(row);
    });

    app.post<{ Params: IdParams }>('/api/v1/live-streams/:id/rotate-key', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Replace the stream key (the old key stops working)', security, params: IdParams, response: { 200: LiveStream, ...errors(401, 403, 404) } },
    }, async (req) => {
      const row = await store.liveStreams.rotateKey(req.params.id);
      if (!row) throw fail('LIVE_STREAM_NOT_FOUND', req.params.id);
      return json(row);
    });

    app.delete<{ Params: IdParams }>('/api/v1/live-streams/:id', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Delete a live stream', security, params: IdParams, response: { 204: { type: 'null' }, ...errors(401, 403, 404) } },
    }, async (req, reply) => {
      if (!(await store.liveStreams.delete(req.params.id))) throw fail('LIVE_STREAM_NOT_FOUND', req.params.id);
      await ctx.restream()?.changed(req.params.id); // its outputs went with it: stop the running ones
      await ctx.pull()?.changed(req.params.id); // its source too
      return reply.code(204).send();
    });

    app.post<{ Params: IdParams; Body: PlaybackTokenRequest }>('/api/v1/live-streams/:id/playback-token', {
      config: { scope: 'videos:read' },
      schema: { tags: ['live', 'playback'], summary: 'Sign a playback token and URLs for a live stream', security, params: IdParams, body: PlaybackTokenRequest, response: { 200: PlaybackToken, ...errors(400, 401, 403, 404) } },
    }, async (req) => {
      const { id } = req.params;
      await must(id);
      const b = req.body ?? {};
      const t = await ctx.tokens.sign(id, { ttlMs: b.ttlS ? b.ttlS * 1000 : config.playback.tokenTtlMs, ip: b.ip, referrer: b.referrer });
      return { token: t.token, kid: t.kid, expiresAt: iso(t.expiresAt), playback: livePlayback(id, t.token, srtBase(config, ctx.srtPort()), rtspBase(config, ctx.rtspPort())) };
    });
  };
}
