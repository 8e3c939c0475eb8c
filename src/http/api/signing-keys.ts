/**
 * `/api/v1/signing-keys` (scope admin): create, list, revoke the HMAC keys that sign playback
 * tokens. Rotation = create a new key (it signs from now on), keep the old one until its tokens
 * expire, then revoke it; tokens of keys not revoked stay valid throughout.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { SigningKeyRow } from '../../store/db/schema.js';
import { iso, type ApiContext } from './context.js';
import { errors, KidParams, SigningKey } from './schemas.js';
import { Type } from '@sinclair/typebox';

/** JSON of a key; the secret only when `withSecret`. */
function keyJson(r: SigningKeyRow, withSecret = false) {
  return { kid: r.kid, alg: r.alg, ...(withSecret ? { secret: r.secret } : {}), createdAt: iso(r.created_at), revokedAt: r.revoked_at === null ? null : iso(r.revoked_at) };
}

const security = [{ bearer: [] }];
const tags = ['signing-keys'];

/** Register the signing key routes. */
export function signingKeysRoutes(ctx: ApiContext) {
  const { store, tokens } = ctx;
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post('/api/v1/signing-keys', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Create a signing key (newest key signs new tokens; secret shown once)', security, response: { 201: SigningKey, ...errors(401, 403) } },
    }, async (_req, reply) => {
      const row = await store.signingKeys.create();
      tokens.addKey(row);
      return reply.code(201).send(keyJson(row, true));
    });

    app.get('/api/v1/signing-keys', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'List signing keys (without secrets)', security, response: { 200: Type.Object({ items: Type.Array(SigningKey) }), ...errors(401, 403) } },
    }, async () => ({ items: (await store.signingKeys.list()).map((r) => keyJson(r)) }));

    app.delete<{ Params: KidParams }>('/api/v1/signing-keys/:kid', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Revoke a signing key: its tokens stop working at once', security, params: KidParams, response: { 200: SigningKey, ...errors(401, 403, 404) } },
    }, async (req) => {
      const row = await store.signingKeys.revoke(req.params.kid);
      if (!row) throw fail('SIGNING_KEY_NOT_FOUND', req.params.kid);
      tokens.revokeKey(row.kid);
      return keyJson(row);
    });
  };
}
