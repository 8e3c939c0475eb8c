/**
 * CMCD (CTA-5004) request data: parse the `CMCD=` query parameter or the `CMCD-Object`,
 * `CMCD-Request`, `CMCD-Session` and `CMCD-Status` headers into one typed record.
 * CTA-5004 §3.2: comma-separated `key=value` pairs; values are integers/decimals, quoted strings
 * (`\"` escapes) or tokens (`ot=v`, `st=l`); a bare key is boolean true (`bs`, `su`).
 * Only called when a request carries CMCD (the caller checks cheaply first), never on plain traffic.
 */
import type { AnyRequest } from '../http-message.js';

/** The CMCD keys Strom reads (CTA-5004 Table 1; `ltc` is CMCD v2 live latency). Units as sent. */
export interface Cmcd {
  /** encoded bitrate, kbps */
  br?: number;
  /** buffer length, ms */
  bl?: number;
  /** buffer starvation since the last request */
  bs?: boolean;
  /** content id */
  cid?: string;
  /** object duration, ms */
  d?: number;
  /** deadline, ms */
  dl?: number;
  /** measured throughput, kbps */
  mtp?: number;
  /** object type: m, a, v, av, i, c, tt, k, o */
  ot?: string;
  /** playback rate */
  pr?: number;
  /** session id */
  sid?: string;
  /** stream type: v (VOD) or l (live) */
  st?: string;
  /** startup: the object is needed urgently at startup or after a rebuffer */
  su?: boolean;
  /** top bitrate, kbps */
  tb?: number;
  /** live latency, ms (CMCD v2) */
  ltc?: number;
}

const MAX_CMCD_CHARS = 2048;
const NUMERIC = new Set(['br', 'bl', 'd', 'dl', 'mtp', 'pr', 'tb', 'ltc', 'rtp', 'nrr']);
const BOOLEAN = new Set(['bs', 'su']);
const STRING = new Set(['cid', 'sid', 'ot', 'st', 'nor', 'sf', 'v']);

/** Parse one CMCD payload (`br=3200,bl=4000,ot=v,sid="6e2f…",su`) into `out`. Unknown keys are ignored. */
export function parseCmcdInto(text: string, out: Cmcd): Cmcd {
  if (text.length > MAX_CMCD_CHARS) text = text.slice(0, MAX_CMCD_CHARS);
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ',' || text[i] === ' ')) i++;
    let k = i;
    while (k < n && text[k] !== '=' && text[k] !== ',') k++;
    const key = text.slice(i, k).trim();
    let value: string | true = true;
    if (k < n && text[k] === '=') {
      k++;
      if (text[k] === '"') {
        let v = '';
        k++;
        while (k < n && text[k] !== '"') {
          if (text[k] === '\\' && k + 1 < n) k++;
          v += text[k];
          k++;
        }
        value = v;
        while (k < n && text[k] !== ',') k++;
      } else {
        const start = k;
        while (k < n && text[k] !== ',') k++;
        value = text.slice(start, k).trim();
      }
    }
    i = k + 1;
    assign(out, key, value);
  }
  return out;
}

function assign(out: Cmcd, key: string, value: string | true): void {
  // CMCD v2 sends some keys as inner lists (`br=(3200 1600)`, RFC 8941 §3.1.1): keep the first item.
  if (value !== true && value.startsWith('(')) value = value.slice(1, value.indexOf(')') < 0 ? undefined : value.indexOf(')')).trim().split(' ')[0]!.replace(/^"|"$/g, '');
  const o = out as Record<string, unknown>;
  if (BOOLEAN.has(key)) o[key] = value === true || value === 'true';
  else if (NUMERIC.has(key)) {
    if (value === true) return;
    const num = Number(value);
    if (Number.isFinite(num) && num >= 0) o[key] = num;
  } else if (STRING.has(key) && value !== true) o[key] = value.slice(0, 128);
}

/** True when the request carries CMCD, checked cheaply: `CMCD=` in the URL or one of the four headers. */
export function hasCmcd(req: AnyRequest): boolean {
  const url = req.url;
  if (url !== undefined && url.indexOf('CMCD=') >= 0) return true;
  const h = req.headers;
  return h['cmcd-session'] !== undefined || h['cmcd-request'] !== undefined || h['cmcd-object'] !== undefined || h['cmcd-status'] !== undefined;
}

/** All CMCD of a request (query parameter and headers), or null when there is none or it names no session. */
export function cmcdOf(req: AnyRequest): Cmcd | null {
  const out: Cmcd = {};
  const url = req.url ?? '';
  const at = url.indexOf('CMCD=');
  if (at >= 0) {
    const end = url.indexOf('&', at);
    const raw = url.slice(at + 5, end < 0 ? undefined : end);
    let text: string;
    try {
      text = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      text = '';
    }
    parseCmcdInto(text, out);
  }
  const h = req.headers;
  for (const name of ['cmcd-session', 'cmcd-request', 'cmcd-object', 'cmcd-status']) {
    const v = h[name];
    if (typeof v === 'string') parseCmcdInto(v, out);
  }
  return out;
}
