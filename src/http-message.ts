/**
 * The request and response shapes Strom handles on either HTTP version: Node's HTTP/1.1 objects
 * and the HTTP/2 compatibility API's. Kept at the bottom layer, beside config and errors, because
 * the delivery path, the playback guard and the QoE accounting all take them, and none of those
 * may import the HTTP surfaces above them (docs/ARCHITECTURE.md "Layers").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** A request of either HTTP version (compat API). */
export type AnyRequest = IncomingMessage | Http2ServerRequest;
/** A response of either HTTP version (compat API). */
export type AnyResponse = ServerResponse | Http2ServerResponse;
