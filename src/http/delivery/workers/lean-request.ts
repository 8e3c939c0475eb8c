/**
 * Request recognition for the lean HTTP/1.1 path (lean-http1.ts): decides, from the raw head,
 * whether a request is the one shape that path answers — `GET|HEAD /v/<asset>/<path> HTTP/1.1`
 * with exactly one Host, `Connection` absent or `keep-alive`, and none of the fields that change
 * an answer (Range, If-*, CMCD, a body, Expect, Upgrade, TE, Trailer). Anything else returns null
 * and node:http (llhttp) parses it.
 *
 * This runs once per player request, so it is built for speed (measured in isolation, Node 20):
 * the request line and the field lines are each validated by one sticky regular expression
 * (native, ~1 ns per byte; a charCodeAt loop over the same bytes took ~2 ns per byte), then the
 * field lines are walked with indexOf, which finds colons and line ends natively, and names are
 * compared in place. wrk's 65-byte head: ~230 ns; a 500-byte browser head: ~1.2 µs, against
 * ~0.35 / 1.6 µs for the previous three regexes, one of which searched for the interesting names
 * with a multiline ^ that is retried at every position.
 */

/** The only request lines answered: GET or HEAD of a /v/ path in Strom's asset alphabet, HTTP/1.1. */
const REQUEST_LINE = /(?:GET|HEAD) \/v\/[A-Za-z0-9_-]+\/[A-Za-z0-9][A-Za-z0-9._/-]* HTTP\/1\.1\r\n/y;
/** Longest asset id and longest path inside an asset (checked after the regex: counted repeats are slower in irregexp). */
const MAX_ID = 64;
const MAX_REST = 401;
/**
 * Every field line and the empty line ending the head: token ":" field-value CRLF (RFC 9110 §5.1,
 * §5.5; RFC 9112 §5: no obs-fold, no whitespace before the colon, no CR/LF/NUL/DEL in a value).
 */
const FIELD_LINES = /(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n/y;

/** True when text[at, at+len) equals `lower` ignoring ASCII case (`lower`: lowercase letters and '-'). */
function nameIs(text: string, at: number, len: number, lower: string): boolean {
  if (len !== lower.length) return false;
  for (let k = 0; k < len; k++) if ((text.charCodeAt(at + k) | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

/** True when text[at, at+len) starts with `lower` ignoring ASCII case. */
function nameStarts(text: string, at: number, len: number, lower: string): boolean {
  return len >= lower.length && nameIs(text, at, lower.length, lower);
}

/** A field whose presence means node:http must answer (conditional, ranged, CMCD, body, upgrade…). */
function isDisqualifying(text: string, at: number, len: number): boolean {
  switch (text.charCodeAt(at) | 0x20) {
    case 0x63: // c
      return nameStarts(text, at, len, 'cmcd-') || nameIs(text, at, len, 'content-length');
    case 0x65: // e
      return nameIs(text, at, len, 'expect');
    case 0x69: // i
      return nameStarts(text, at, len, 'if-');
    case 0x72: // r
      return nameIs(text, at, len, 'range');
    case 0x74: // t
      return nameIs(text, at, len, 'te') || nameIs(text, at, len, 'trailer') || nameIs(text, at, len, 'transfer-encoding');
    case 0x75: // u
      return nameIs(text, at, len, 'upgrade');
    default:
      return false;
  }
}

/** True when text[from, to) is `keep-alive` (any case) with optional SP/HTAB around (RFC 9110 §5.6.3). */
function isKeepAlive(text: string, from: number, to: number): boolean {
  while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
  while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
  return nameIs(text, from, to - from, 'keep-alive');
}

/**
 * The method and path of a request this path may answer, or null to hand the connection to
 * node:http. `text` is the latin1 text of the read (one char per byte), the head spans
 * [start, end) and `end` is where its terminating CRLFCRLF begins.
 */
export function parseLeanRequest(text: string, start: number, end: number): { method: string; path: string } | null {
  // Request line (RFC 9112 §3): exactly one SP around the target, origin-form without a query.
  REQUEST_LINE.lastIndex = start;
  if (!REQUEST_LINE.test(text)) return null;
  let i = REQUEST_LINE.lastIndex;
  const method = text.charCodeAt(start) === 0x47 ? 'GET' : 'HEAD';
  const path = text.slice(start + method.length + 1, i - 11); // before " HTTP/1.1\r\n"
  const idEnd = path.indexOf('/', 3);
  if (idEnd - 3 > MAX_ID || path.length - idEnd - 1 > MAX_REST) return null;
  if (path.includes('//') || path.includes('/.')) return null; // empty or dot segments, hidden files

  // Field lines (RFC 9112 §5): validated in one native pass, then walked line by line with indexOf.
  FIELD_LINES.lastIndex = i;
  if (!FIELD_LINES.test(text) || FIELD_LINES.lastIndex !== end + 4) return null;
  let hosts = 0;
  while (i < end) {
    const colon = text.indexOf(':', i);
    const lineEnd = text.indexOf('\r\n', colon);
    const len = colon - i;
    if (nameIs(text, i, len, 'host')) hosts++;
    else if (nameIs(text, i, len, 'connection')) {
      if (!isKeepAlive(text, colon + 1, lineEnd)) return null;
    } else if (isDisqualifying(text, i, len)) return null;
    i = lineEnd + 2;
  }
  return i === end + 2 && hosts === 1 ? { method, path } : null;
}
