/**
 * `registerUploads(app, opts)`: the upload surfaces — tus 1.0 at `/api/v1/uploads` (also behind the
 * one-time URLs of direct uploads, `/api/v1/uploads/direct/<credential>`) and the original design's
 * multipart `POST /api/v1/video/upload` — in one encapsulated Fastify scope
 * whose content-type parsers hand the raw request stream through untouched (tus and busboy read
 * it themselves; Fastify must neither buffer nor apply its 1 MiB body limit). Register it after
 * the API middleware so auth, request logging and rate limits apply. See docs/UPLOADS.md.
 */
import { mkdirSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createTus, tusHandler, tusRoutes, VIDEO_ID_HEADER } from './tus-uploads.js';
import { directTusRoutes, directUploadRoutes } from './direct-uploads.js';
import { multipartRoutes } from './multipart-upload.js';
import { uploadsDir, type UploadOptions } from './upload-files.js';

export type { OnUploaded, UploadOptions } from './upload-files.js';
export { VIDEO_ID_HEADER } from './tus-uploads.js';

/** Headers a browser must be able to read from upload responses (tus + ours). */
export const EXPOSED_HEADERS = ['Upload-Offset', 'Location', 'Upload-Length', 'Tus-Version', 'Tus-Resumable', 'Tus-Max-Size', 'Tus-Extension', 'Upload-Metadata', 'Upload-Expires', VIDEO_ID_HEADER];

/** What registering returns: `sweep()` runs the expiry cleanup now (tests, admin tooling). */
export interface Uploads {
  sweep(): Promise<number>;
}

/** Register tus + multipart uploads; the expiry sweeper stops when `app` closes. */
export async function registerUploads(app: FastifyInstance, opts: UploadOptions): Promise<Uploads> {
  mkdirSync(uploadsDir(opts.config), { recursive: true });
  const tus = createTus(opts, app.log);
  app.addHook('onClose', async () => tus.close());
  const cors = opts.config.delivery.corsOrigin;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    // Errors Fastify answers itself (401/403/413/415/429) must be readable by browsers too.
    scope.addHook('onSend', async (_req, reply: FastifyReply) => {
      if (cors) void reply.header('access-control-allow-origin', cors).header('access-control-expose-headers', EXPOSED_HEADERS.join(', '));
    });
    tusRoutes(scope, tus.server);
    directTusRoutes(scope, opts, tusHandler(tus.server));
    multipartRoutes(scope, opts);
  });
  directUploadRoutes(app, opts, tus.discard); // JSON bodies: outside the pass-through scope
  return { sweep: tus.sweep };
}
