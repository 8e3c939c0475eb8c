/**
 * The API middleware chain, in the original design's order, as Fastify hooks on `/api/` routes:
 *   1. authenticate (onRequest): Bearer JWT → `request.principal`, 401/403 per RFC 6750 §3.1
 *   2. log (onRequest): the request logger gains `sub`, so every later line names the caller
 *   3. rate-limit (route onRequest, @fastify/rate-limit): keyed by `sub`, else client IP
 *   4. handler (with `request.signal` from deadlines.ts, installed before all of these)
 * Route scopes come from `config.scope` (scopes.ts); `none` and `playback` skip API auth.
 */
import type { FastifyInstance } from 'fastify';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { bearerToken, insufficientScope, missingToken, type ApiPrincipal } from './api-auth.js';
import { allows, defaultScope } from './scopes.js';
import { registerApiRateLimit } from './rate-limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API caller, null on open routes. */
    principal: ApiPrincipal | null;
  }
}

/** The original design's MP4 route: playback policy, not API scopes. */
const STREAM_ALIAS = '/api/v1/video/stream/:id';

/** Options of the middleware plugin. */
export interface MiddlewareOptions {
  config: Config;
  verify: (token: string) => Promise<ApiPrincipal>;
  /** The API rate limit's store in cluster mode (counted in Redis); default in memory. */
  rateLimitStore?: FastifyRateLimitStoreCtor;
}

/** Plugin: authenticate → log → rate-limit for every `/api/` route registered after it. */
export const apiMiddleware = fp(async (app: FastifyInstance, opts: MiddlewareOptions) => {
  app.decorateRequest('principal', null);

  // 1. authenticate
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/')) return;
    const declared = req.routeOptions.config.scope;
    if (declared === 'none' || declared === 'playback') return;
    if (req.routeOptions.url === STREAM_ALIAS) return; // follows the video's playback policy (delivery guard)
    if (req.routeOptions.url === undefined) return; // 404s: let the not-found handler answer
    const needed = declared ?? defaultScope(req.method);
    const token = bearerToken(req.headers.authorization);
    if (token === null) throw missingToken(`send "Authorization: Bearer <token>" with scope ${needed}`);
    const principal = await opts.verify(token);
    if (!allows(principal.scopes, needed)) throw insufficientScope(needed, principal.scopes);
    req.principal = principal;
  });

  // 2. log: bind the caller to every later log line of this request
  app.addHook('onRequest', async (req) => {
    if (req.principal) {
      req.log = req.log.child({ sub: req.principal.sub });
      req.log.debug({ scopes: [...req.principal.scopes] }, 'authenticated');
    }
  });

  // 3. rate-limit (route-level onRequest hooks run after the app-level ones above)
  await registerApiRateLimit(app, opts.config, opts.rateLimitStore);
}, { name: 'strom-api-middleware' });
