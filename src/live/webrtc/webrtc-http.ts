/**
 * HTTP plumbing shared by the WHIP and WHEP routes: the body parser (SDP and trickle-ICE fragments
 * as text; any other Content-Type reaches the handler and is refused with 415), CORS with the
 * headers a browser client must read (Location, ETag, Link, Accept-Patch; RFC 9725 §4.4), and the
 * session resource methods: PATCH (trickle ICE, If-Match), DELETE (end), OPTIONS (preflight).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fail } from '../../errors.js';
import { checkIfMatch, mediaType, type SessionTable } from './sdp-resource.js';
import type { WebRtcRole } from './webrtc-metrics.js';

/** Largest SDP offer or fragment accepted. */
export const SDP_MAX_BYTES = 64 * 1024;

/** Register the text parser and CORS hook on an encapsulated Fastify context. */
export function prepareContext(app: FastifyInstance, corsOrigin: string): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: SDP_MAX_BYTES }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (_req, reply) => {
    if (corsOrigin === '') return;
    reply.header('Access-Control-Allow-Origin', corsOrigin).header('Access-Control-Expose-Headers', 'Location, ETag, Link, Accept-Patch, Retry-After');
  });
}

/** Answer a CORS preflight for `methods`. */
export function preflight(reply: FastifyReply, methods: string): void {
  reply.code(204).header('Access-Control-Allow-Methods', methods)
    .header('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match')
    .header('Access-Control-Max-Age', '600')
    .header('Accept-Post', 'application/sdp')
    .send();
}

/** Require a body of `type` (415 otherwise, 400 when empty). */
export function sdpBody(contentType: string | undefined, body: unknown, type: string): string {
  const got = mediaType(contentType);
  if (got !== type) throw fail('UNSUPPORTED_MEDIA_TYPE', got === '' ? '(none)' : got);
  if (typeof body !== 'string' || body.trim() === '') throw fail('WEBRTC_BAD_SDP', 'the request body is empty');
  return body;
}

/** PATCH/DELETE/OPTIONS on `/<prefix>/:id` (RFC 9725 §4.2, §4.3). */
export function resourceRoutes(app: FastifyInstance, role: WebRtcRole, table: SessionTable): void {
  type Req = { Params: { id: string } };
  app.options<Req>(`/${role}/:id`, async (_req, reply) => preflight(reply, 'PATCH, DELETE, OPTIONS'));
  app.patch<Req>(`/${role}/:id`, async (req, reply) => {
    const s = table.get(role, req.params.id);
    const frag = sdpBody(req.headers['content-type'], req.body, 'application/trickle-ice-sdpfrag');
    checkIfMatch('PATCH', req.headers['if-match'], s);
    await s.patch(frag);
    reply.code(204).header('ETag', s.etag).send();
  });
  app.delete<Req>(`/${role}/:id`, async (req, reply) => {
    const s = table.get(role, req.params.id);
    s.close('DELETE by the client');
    reply.code(200).send();
  });
}
