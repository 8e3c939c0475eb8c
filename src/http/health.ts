/**
 * `GET /healthz`: 200 while the process is up and serving (liveness).
 * `GET /readyz`: 200 `{status:'ready', checks}` when every readiness check passes, else
 * 503 `{status:'not ready', failing:[names], checks:{name: reason}}` (src/observability/readiness.ts).
 */
import type { FastifyInstance } from 'fastify';
import { runChecks, type Check } from '../observability/readiness.js';

/** Register health routes. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok', uptimeS: Math.round(process.uptime()) }));
}

/** Register `/readyz` over these named checks. */
export function readinessRoutes(checks: Record<string, Check>) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/readyz', { logLevel: 'warn' }, async (_req, reply) => {
      const r = await runChecks(checks);
      void reply.header('cache-control', 'no-store');
      if (r.ready) return { status: 'ready', checks: r.checks };
      return reply.code(503).send({ status: 'not ready', failing: r.failing, checks: r.checks });
    });
  };
}
