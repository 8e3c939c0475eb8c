/**
 * The answer to a request node:http could not parse (its `clientError` event): a catalog error
 * body (errors.ts) and `Connection: close`, then the socket is destroyed — RFC 9112 §2.2: after a
 * malformed message the connection cannot be trusted for another. The main process (through
 * Fastify's `clientErrorHandler`) and the delivery workers (plain node:http servers) use this one
 * function, so a malformed head gets the same bytes whichever process owns the connection.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { fail, type StromError } from '../errors.js';

/** Answer a parse error on `socket` (unless it is already gone) and destroy it. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, log: Logger, limits: { headersMs: number; requestMs: number }): void {
  // A reset peer has nothing left to read an answer (node:http documents the ECONNRESET case).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let e: StromError;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') e = fail('REQUEST_HEAD_TIMEOUT', limits.headersMs, limits.requestMs);
  else if (err.code === 'HPE_HEADER_OVERFLOW') e = fail('HEADERS_TOO_LARGE');
  else e = fail('MALFORMED_REQUEST', err.code ?? 'unknown');
  log.debug({ code: err.code, status: e.statusCode }, 'unparsable request');
  if (socket.writable) {
    const body = JSON.stringify(e.toJSON());
    socket.write(`HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
