/**
 * `/api/v1/live-streams/:id/outputs` (scope live:write): restreaming destinations of a live
 * stream — create, list, get, patch (rename, enable/disable, change destination), delete. The
 * destination URL and stream key are secrets: stored whole, answered masked (no userinfo, no
 * query, the key's last 4 characters). Each output carries its runtime status from the restream
 * service (src/live/restream). Changes take effect at once on a live stream.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { maskOutputUrl } from '../../live/restream/output-url.js';
import { defaultTransports } from '../../live/restream/transports.js';
import type { LiveOutputRow } from '../../store/db/schema.js';
import { iso, type ApiContext } from './context.js';
import { errors, IdParams } from './schemas.js';

const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'destination: rtmp://host[:port]/app[/key], rtmps://…, or srt://host:port?streamid=…&passphrase=…' });
const Key = Type.String({ maxLength: 1000, description: 'stream key: the RTMP stream name appended to the URL, or the SRT stream id (secret: answered masked)' });
const Name = Type.String({ maxLength: 200 });
const OutputCreate = Type.Object({ url: Url, streamKey: Type.Optional(Key), name: Type.Optional(Name), enabled: Type.Optional(Type.Boolean({ default: true })) }, { additionalProperties: false });
type OutputCreate = Static<typeof OutputCreate>;
const OutputPatch = Type.Object({ url: Type.Optional(Url), streamKey: Type.Optional(Type.Union([Key, Type.Null()])), name: Type.Optional(Name), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 });
type OutputPatch = Static<typeof OutputPatch>;
const OutputParams = Type.Object({ id: IdParams.properties.id, outputId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
type OutputParams = Static<typeof OutputParams>;
const State = Type.Union(['idle', 'connecting', 'live', 'reconnecting', 'failed'].map((s) => Type.Literal(s)));
const Output = Type.Object({
  id: Type.String(), streamId: Type.String(), name: Type.String(),
  url: Type.String({ description: 'the destination, masked' }), enabled: Type.Boolean(),
  state: State, lastError: Type.Union([Type.String(), Type.Null()]), bytesSent: Type.Integer(),
  connectedAt: Type.Union([Type.String(), Type.Null()]), reconnects: Type.Integer(),
  createdAt: Type.String(), updatedAt: Type.String(),
});

const security = [{ bearer: [] }];
const tags = ['live'];

/** Register the output routes. */
export function liveOutputsRoutes(ctx: ApiContext) {
  const { store, config } = ctx;
  const transports = () => ctx.restream()?.transports ?? defaultTransports();
  const json = (r: LiveOutputRow) => {
    const st = ctx.restream()?.status(r.stream_id, r.id);
    return {
      id: r.id, streamId: r.stream_id, name: r.name, url: maskOutputUrl(r.url, r.stream_key), enabled: r.enabled === 1,
      state: st?.state ?? 'idle', lastError: st?.lastError ?? null, bytesSent: st?.bytesSent ?? 0, connectedAt: st?.connectedAt ?? null, reconnects: st?.reconnects ?? 0,
      createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
    };
  };
  const stream = async (id: string) => {
    if (!(await store.liveStreams.get(id))) throw fail('LIVE_STREAM_NOT_FOUND', id);
  };
  const applied = async (streamId: string) => ctx.restream()?.changed(streamId);
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Params: IdParams; Body: OutputCreate }>('/api/v1/live-streams/:id/outputs', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Add a restreaming output (starts at once when the stream is live)', security, params: IdParams, body: OutputCreate, response: { 201: Output, ...errors(400, 401, 403, 404, 409, 422) } },
    }, async (req, reply) => {
      const { id } = req.params;
      await stream(id);
      transports().check(req.body.url, req.body.streamKey ?? null);
      const row = await store.liveOutputs.create(id, req.body, config.live.maxOutputsPerStream);
      if (row === null) throw fail('LIVE_OUTPUT_LIMIT', id, config.live.maxOutputsPerStream);
      await applied(id);
      return reply.code(201).send(json(row));
    });

    app.get<{ Params: IdParams }>('/api/v1/live-streams/:id/outputs', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'List the restreaming outputs of a live stream, oldest first', security, params: IdParams, response: { 200: Type.Object({ items: Type.Array(Output) }), ...errors(401, 403, 404) } },
    }, async (req) => {
      await stream(req.params.id);
      return { items: (await store.liveOutputs.list(req.params.id)).map(json) };
    });

    app.get<{ Params: OutputParams }>('/api/v1/live-streams/:id/outputs/:outputId', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Get a restreaming output and its state', security, params: OutputParams, response: { 200: Output, ...errors(401, 403, 404) } },
    }, async (req) => {
      const row = await store.liveOutputs.get(req.params.id, req.params.outputId);
      if (!row) throw fail('LIVE_OUTPUT_NOT_FOUND', req.params.id, req.params.outputId);
      return json(row);
    });

    app.patch<{ Params: OutputParams; Body: OutputPatch }>('/api/v1/live-streams/:id/outputs/:outputId', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Rename, enable/disable or change the destination of an output', security, params: OutputParams, body: OutputPatch, response: { 200: Output, ...errors(400, 401, 403, 404, 422) } },
    }, async (req) => {
      const { id, outputId } = req.params;
      const old = await store.liveOutputs.get(id, outputId);
      if (!old) throw fail('LIVE_OUTPUT_NOT_FOUND', id, outputId);
      const b = req.body;
      if (b.url !== undefined || b.streamKey !== undefined) transports().check(b.url ?? old.url, b.streamKey === undefined ? old.stream_key : b.streamKey);
      const row = await store.liveOutputs.update(id, outputId, b);
      if (!row) throw fail('LIVE_OUTPUT_NOT_FOUND', id, outputId);
      await applied(id);
      return json(row);
    });

    app.delete<{ Params: OutputParams }>('/api/v1/live-streams/:id/outputs/:outputId', {
      config: { scope: 'live:write' },
      schema: { tags, summary: 'Delete an output (a running push stops)', security, params: OutputParams, response: { 204: { type: 'null' }, ...errors(401, 403, 404) } },
    }, async (req, reply) => {
      const { id, outputId } = req.params;
      if (!(await store.liveOutputs.delete(id, outputId))) throw fail('LIVE_OUTPUT_NOT_FOUND', id, outputId);
      await applied(id);
      ctx.restream()?.forget(outputId);
      return reply.code(204).send();
    });
  };
}
