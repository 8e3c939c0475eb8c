/**
 * Request recognition for the lean HTTP/1.1 path (lean-http1.ts): decides, from the raw head,
 * whether a request is the one shape that path answers — `GET|HEAD /v/<asset>/<path> HTTP/1.1`
 * with exactly one Host, `Connection` absent or `keep-alive`, and none of the fields that change
 * an answer (Range, If-*, CMCD, a body, Expect, Upgrade, TE, Trailer). Anything else returns null
 * and node:http (llhttp) parses it. Three anchored regular expressions over the latin1 text of
 * the read: no per-line substrings, which the profile showed as the parser's main cost.
 */

/**
 * Request line of the only requests answered here (RFC 9112 §3; a strict path alphabet, no query),
 * matched in place (sticky) on the latin1 text of a read, so no substring is cut for it.
 */
const REQUEST_LINE = /(GET|HEAD) (\/v\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9][A-Za-z0-9._/-]{0,400}) HTTP\/1\.1\r\n/y;
/**
 * Every field line up to and including the empty line: `field-name ":" OWS field-value OWS` with a
 * token name and no control characters (RFC 9110 §5, RFC 9112 §5: no obs-fold, no space before ':').
 */
const FIELD_LINES = /(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n/y;
/** Field lines whose presence changes the answer (the rest — accept, user-agent… — are ignored). */
const NOTABLE = /^(host|connection|if-[^:\r\n]*|cmcd-[^:\r\n]*|range|content-length|transfer-encoding|expect|upgrade|te|trailer):([^\r]*)/gim;
/** The one Connection value answered here (OWS is SP / HTAB only, RFC 9110 §5.6.3). */
const KEEP_ALIVE = /^[\t ]*keep-alive[\t ]*$/i;

/**
 * The method and path of a request this path may answer, or null to hand the connection to
 * node:http. `text` is the latin1 text of the read (one char per byte), the head spans
 * [start, end) and `end` is where its terminating CRLFCRLF begins.
 */
export function parseLeanRequest(text: string, start: number, end: number): { method: string; path: string } | null {
  REQUEST_LINE.lastIndex = start;
  const m = REQUEST_LINE.exec(text);
  if (m === null || m[2]!.includes('//') || m[2]!.includes('/.')) return null;
  const fields = REQUEST_LINE.lastIndex;
  FIELD_LINES.lastIndex = fields;
  if (!FIELD_LINES.test(text) || FIELD_LINES.lastIndex !== end + 4) return null;
  let hosts = 0;
  NOTABLE.lastIndex = fields;
  for (let f = NOTABLE.exec(text); f !== null && f.index < end; f = NOTABLE.exec(text)) {
    const name = f[1]!.toLowerCase();
    if (name === 'host') hosts++;
    else if (name !== 'connection' || !KEEP_ALIVE.test(f[2]!)) return null;
  }
  return hosts === 1 ? { method: m[1]!, path: m[2]! } : null;
}

