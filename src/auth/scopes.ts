/**
 * API scopes and which routes need which. A token's scopes come from the OAuth-style `scope`
 * claim (space-separated, RFC 8693 §4.2) or an `scp` array (what several identity providers
 * issue). `admin` grants every scope. Routes declare theirs as `config: { scope }`.
 */

/** Every scope Strom checks. */
export const SCOPES = ['videos:read', 'videos:write', 'live:write', 'admin'] as const;
/** One API scope. */
export type Scope = (typeof SCOPES)[number];
/** What a route needs: a scope, `none` (open: OpenAPI, docs) or `playback` (follows the asset's policy). */
export type RouteScope = Scope | 'none' | 'playback';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope the route needs (src/auth/scopes.ts); default: videos:read for GET/HEAD, else videos:write. */
    scope?: RouteScope;
    /** Per-route deadline override in ms (0 = none, e.g. uploads); src/auth/deadlines.ts. */
    deadlineMs?: number;
  }
}

/** Scopes granted by a verified JWT payload. */
export function scopesOf(claims: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  if (typeof claims.scope === 'string') for (const s of claims.scope.split(' ')) if (s) out.add(s);
  if (Array.isArray(claims.scp)) for (const s of claims.scp) if (typeof s === 'string') out.add(s);
  return out;
}

/** True when `granted` allows `needed` (admin allows everything). */
export function allows(granted: ReadonlySet<string>, needed: Scope): boolean {
  return granted.has(needed) || granted.has('admin');
}

/** Parse a CLI/user scope list ("videos:read videos:write" or comma-separated); throws on unknown. */
export function parseScopes(text: string): Scope[] {
  const list = text.split(/[\s,]+/).filter(Boolean);
  for (const s of list) if (!(SCOPES as readonly string[]).includes(s)) throw new RangeError(s);
  return list as Scope[];
}

/** The scope a route needs when it did not declare one. */
export function defaultScope(method: string): Scope {
  return method === 'GET' || method === 'HEAD' ? 'videos:read' : 'videos:write';
}
