/** The origin of absolute URLs Strom hands out: `publicUrl` when set, else the scheme and host the request came to (X-Forwarded-Proto only from `trustProxy`). */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';

/** `https://video.example.com` — no trailing slash. */
export function publicBase(config: Pick<Config, 'publicUrl'>, req: FastifyRequest): string {
  return config.publicUrl ? config.publicUrl.replace(/\/+$/, '') : `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}
