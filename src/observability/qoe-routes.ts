/**
 * `GET /api/v1/videos/:id/qoe` (scope videos:read) and `GET /api/v1/live-streams/:id/qoe`: the
 * CMCD-derived QoE of one video or live stream (qoe.ts): aggregates over the sessions seen and the
 * most recent sessions. An existing video or stream without CMCD traffic yet has `sessions: 0`.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../errors.js';
import type { Store } from '../store/db/database.js';
import type { ContentType, QoeTracker } from './qoe.js';

function empty(contentId: string, type: ContentType) {
  return { contentId, type, sessions: 0, activeSessions: 0, startupMs: null, rebuffers: 0, rebufferRatio: 0, avgBitrateKbps: null, bitrateSwitches: 0, throughputKbps: null, recentSessions: [] };
}

/** Register the QoE routes (after the API middleware, so they are authenticated). */
export function qoeRoutes(qoe: QoeTracker, store: Store) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { id: string } }>('/api/v1/videos/:id/qoe', { config: { scope: 'videos:read' } }, async (req) => {
      const { id } = req.params;
      if (!(await store.videos.get(id))) throw fail('VIDEO_NOT_FOUND', id);
      return qoe.report(id) ?? empty(id, 'vod');
    });
    app.get<{ Params: { id: string } }>('/api/v1/live-streams/:id/qoe', { config: { scope: 'videos:read' } }, async (req) => {
      const { id } = req.params;
      if (!(await store.liveStreams.get(id))) throw fail('LIVE_STREAM_NOT_FOUND', id);
      return qoe.report(id) ?? empty(id, 'live');
    });
  };
}
