/**
 * Authentication of the internal live relay between the nodes of a cluster:
 *
 *   Authorization: Strom-Node <nodeId>:<ts>:<hmac>
 *   hmac = hex HMAC-SHA256(cluster.secret, "<nodeId>|<ts>|<streamId>"), ts = caller's clock in ms
 *
 * The serving node accepts a timestamp within ±30 s of its own clock (node clocks must agree that
 * well; NTP does far better) and compares the MAC in constant time. A header is bound to one
 * stream and expires, so one seen on the wire is worth one stream for half a minute at most.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fail } from '../../errors.js';

/** Largest accepted difference between the caller's timestamp and this node's clock. */
export const RELAY_AUTH_SKEW_MS = 30_000;

const SCHEME = 'Strom-Node';
const HEADER = /^Strom-Node (.{1,128}):(\d{1,16}):([0-9a-f]{64})$/;

function mac(secret: string, nodeId: string, ts: number, streamId: string): Buffer {
  return createHmac('sha256', secret).update(`${nodeId}|${ts}|${streamId}`).digest();
}

/** The Authorization header value with which `nodeId` asks for `streamId`. */
export function signRelayRequest(secret: string, nodeId: string, streamId: string, now = Date.now()): string {
  return `${SCHEME} ${nodeId}:${now}:${mac(secret, nodeId, now, streamId).toString('hex')}`;
}

/**
 * Check a relay request's Authorization header for `streamId`; returns the calling node's id.
 * Throws CLUSTER_AUTH_REQUIRED (401) when the header is missing or malformed, CLUSTER_AUTH_FAILED
 * (403) when the timestamp is out of range or the MAC is wrong.
 */
export function verifyRelayRequest(header: string | undefined, secret: string, streamId: string, now = Date.now()): string {
  if (header === undefined || header === '') throw fail('CLUSTER_AUTH_REQUIRED', `send Authorization: ${SCHEME} <nodeId>:<ts>:<hmac>`);
  const m = HEADER.exec(header);
  if (m === null) throw fail('CLUSTER_AUTH_REQUIRED', `malformed Authorization header, expected ${SCHEME} <nodeId>:<ts>:<hmac>`);
  const [, nodeId, tsText, hex] = m as unknown as [string, string, string, string];
  const ts = Number(tsText);
  const skew = ts - now;
  if (Math.abs(skew) > RELAY_AUTH_SKEW_MS) throw fail('CLUSTER_AUTH_FAILED', `timestamp of node ${JSON.stringify(nodeId)} is ${Math.round(skew / 1000)} s from this node's clock (allowed ±${RELAY_AUTH_SKEW_MS / 1000} s)`);
  if (!timingSafeEqual(Buffer.from(hex, 'hex'), mac(secret, nodeId, ts, streamId))) throw fail('CLUSTER_AUTH_FAILED', `bad signature from node ${JSON.stringify(nodeId)}`);
  return nodeId;
}
