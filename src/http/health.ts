/** `GET /healthz`: 200 once the process is up and serving (the observability issue adds /readyz). */
import type { FastifyInstance } from 'fastify';

/** Register health routes. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok', uptimeS: Math.round(process.uptime()) }));
}
