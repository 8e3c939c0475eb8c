/**
 * `GET /api/v1/metrics/history` (scope admin): the last 15 minutes of requests/s, latency, error
 * ratio, live viewers, ingest bitrate and QoE that src/observability/metrics-history.ts samples,
 * for the dashboard's charts. `?since=<epoch ms>` returns only newer points, so a page that
 * already has the history fetches just the new ones. Admin like /metrics: the figures describe
 * the whole service, not one caller's content.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { MetricsHistory } from '../../observability/metrics-history.js';
import { errors } from './schemas.js';

const Num = Type.Number();
const NumOrNull = Type.Union([Type.Number(), Type.Null()]);
const Point = Type.Object({
  t: Type.Integer({ description: 'end of the interval, epoch ms' }),
  rps: Type.Number({ description: 'requests per second, all route groups' }),
  p95Ms: NumOrNull,
  p99Ms: NumOrNull,
  errorRatio: Type.Union([Type.Number(), Type.Null()], { description: 'share of 5xx responses (0-1); null without requests' }),
  viewers: Type.Object({ 'http-flv': Num, 'ws-flv': Num, rtmp: Num, hls: Num, whep: Num }, { description: 'live viewers by protocol at the end of the interval' }),
  ingestBps: Type.Number({ description: 'ingest bitrate of all live streams, bits/s' }),
  qoeStartupP50Ms: NumOrNull,
  rebufferRatio: NumOrNull,
});
const History = Type.Object({ intervalMs: Type.Integer({ description: 'sampling interval; 0 = history off' }), points: Type.Array(Point) });
const HistoryQuery = Type.Object({ since: Type.Optional(Type.Integer({ minimum: 0, description: 'only points with t after this (epoch ms)' })) });
type HistoryQuery = Static<typeof HistoryQuery>;

/** Register the history route (after the API middleware, so it is authenticated). */
export function metricsHistoryRoutes(history: MetricsHistory) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: HistoryQuery }>('/api/v1/metrics/history', {
      config: { scope: 'admin' },
      schema: {
        tags: ['metrics'], summary: 'Last 15 minutes of service figures (the dashboard charts)', security: [{ bearer: [] }],
        querystring: HistoryQuery, response: { 200: History, ...errors(400, 401, 403) },
      },
    }, async (req, reply) => {
      void reply.header('cache-control', 'no-store');
      return history.snapshot(req.query.since);
    });
  };
}

/** Start the sampler over `read` (the /metrics exposition) and register its route; stop it on close. */
export async function registerMetricsHistory(app: FastifyInstance, read: () => Promise<string>, config: Config, log: Logger): Promise<MetricsHistory> {
  const history = new MetricsHistory({ read, intervalMs: config.metrics.historyIntervalMs, log: log.child({ component: 'metrics-history' }) }).start();
  await app.register(metricsHistoryRoutes(history));
  return history;
}
