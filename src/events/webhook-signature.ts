/**
 * Webhook signatures: `Strom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * Signing the timestamp with the body lets a receiver refuse replays older than its tolerance;
 * several `v1=` entries may appear (secret rotation) and any one matching is enough. Receivers
 * import `verifyWebhookSignature` (or port its ten lines); see docs/UPLOADS.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'Strom-Signature';
/** Header carrying the event id (`evt_…`): the same for every webhook the event goes to, and across retries. */
export const EVENT_ID_HEADER = 'Strom-Event-Id';
/** Header carrying the delivery id (`dlv_…`, one event to one webhook): the same across retries; receivers deduplicate on it. */
export const DELIVERY_ID_HEADER = 'Strom-Delivery-Id';

/** Hex HMAC-SHA256 of `"<t>.<body>"`. */
function mac(secret: string, t: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

/** The `Strom-Signature` value for `body` at unix time `t` (seconds). */
export function signWebhook(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/**
 * True when `header` carries a `v1` HMAC of `body` under `secret` and its `t` is within
 * `toleranceS` of `nowS`. `body` must be the raw request body, byte for byte, before JSON parsing.
 */
export function verifyWebhookSignature(secret: string, header: string | undefined | null, body: string | Buffer, toleranceS = 300, nowS = Math.floor(Date.now() / 1000)): boolean {
  if (!header) return false;
  let t = NaN;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (!Number.isFinite(t) || sigs.length === 0 || Math.abs(nowS - t) > toleranceS) return false;
  const expected = Buffer.from(mac(secret, t, body), 'hex');
  return sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}
