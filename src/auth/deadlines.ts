/**
 * Request deadlines and cancellation, on Fastify's own machinery: every `/api/` route registered
 * after this plugin gets `handlerTimeout` = `timeouts.requestDeadlineMs` (or its own
 * `config.deadlineMs`; 0 = no deadline, for uploads and long-lived responses). `request.signal`
 * (Fastify) then aborts when the deadline passes (reason `FST_ERR_HANDLER_TIMEOUT`, answered as
 * 504 DEADLINE_EXCEEDED) or when the client disconnects (an `AbortError`).
 *
 * Contract for code a request starts: pass `request.signal` on — `fs.promises.readFile(p,
 * { signal })`, `spawn('ffmpeg', args, { signal })`, `fetch(url, { signal })` for webhooks — and
 * use `withTimeout(signal, ms)` to give a sub-task a shorter budget of its own.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { fail, type StromError } from '../errors.js';

/** `parent` or a timeout of `ms`, whichever fires first (AbortSignal.any, Node ≥ 20.3). */
export function withTimeout(parent: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([parent, AbortSignal.timeout(ms)]);
}

/** The catalog error for Fastify's handler timeout, or null when `err` is something else. */
export function deadlineError(err: { code?: string }, req: { routeOptions: { handlerTimeout?: number } }): StromError | null {
  return err.code === 'FST_ERR_HANDLER_TIMEOUT' ? fail('DEADLINE_EXCEEDED', req.routeOptions.handlerTimeout ?? 0) : null;
}

/** Plugin: give `/api/` routes registered after it their deadline. */
export const deadlines = fp(async (app: FastifyInstance, opts: { config: Config }) => {
  const defaultMs = opts.config.timeouts.requestDeadlineMs;
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/') || route.handlerTimeout !== undefined) return;
    const ms = route.config?.deadlineMs ?? defaultMs;
    if (ms > 0) route.handlerTimeout = ms;
  });
}, { name: 'strom-deadlines' });
