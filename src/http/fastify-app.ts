/**
 * The Fastify instance behind the delivery fast path, with the behaviour every route shares:
 * request ids (the caller's `x-request-id` when sane, echoed on every response), catalog errors
 * for everything Fastify itself refuses (validation, body too large, wrong media type, deadlines),
 * a catalog 404 for unknown routes, and the same bytes as a delivery worker for malformed heads.
 * Request logging is off here: observability writes one access line per request instead.
 */
import type http from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { fail, isStromError, StromError } from '../errors.js';
import { deadlineError } from '../auth/deadlines.js';
import { answerClientError } from './client-error.js';

let reqCounter = 0;
/** Request ids: the caller's `x-request-id` when sane, else a short process-unique id. */
function requestId(raw: http.IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  if (typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given)) return given;
  return `r${process.pid.toString(36)}-${(++reqCounter).toString(36)}`;
}

/** Create the Fastify app on the server that `serverFactory` builds; no routes yet. */
export function createFastifyApp(config: Config, log: Logger, serverFactory: FastifyServerFactory): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    serverFactory,
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    // X-Forwarded-* only from configured proxies (RFC 7239 §8.1: anyone else could forge them).
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    return503OnClosing: true,
    forceCloseConnections: false,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, log, config.timeouts),
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    let e: StromError;
    if (isStromError(err)) e = err;
    else if (err.code === 'FST_ERR_HANDLER_TIMEOUT') e = deadlineError(err, req)!; // request deadline → 504
    else if (err.validation) e = fail('VALIDATION_FAILED', (err as { validationContext?: string }).validationContext ?? 'request', err.message);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = fail('PAYLOAD_TOO_LARGE', Number(req.headers['content-length'] ?? 0), app.initialConfig.bodyLimit ?? 0);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = fail('UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type']));
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) e = new StromError('BAD_REQUEST', err.message, err.statusCode);
    else {
      req.log.error({ err }, 'request failed');
      e = fail('INTERNAL', 'unexpected error, see the server log for the request id');
    }
    void reply.code(e.statusCode).headers(e.headers).type('application/json; charset=utf-8').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = fail('NOT_FOUND', `route ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).send(e.toJSON());
  });
  return app;
}
