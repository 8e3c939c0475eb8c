/**
 * HTTP request parsing Strom does itself: the lean HTTP/1.1 request recognizer of the delivery
 * workers (RFC 9112 §3, §5), Range (RFC 9110 §14.1–14.2) and the conditional headers (§13.1).
 */
import { parseLeanRequest } from '../../src/http/delivery/workers/lean-request.js';
import { MAX_RANGES, parseRange } from '../../src/http/delivery/range.js';
import { evaluatePreconditions, ifRangeAllows } from '../../src/http/delivery/preconditions.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

/** Asset ids and paths the lean path may serve (what node:http would route to /v/). */
const SAFE_PATH = /^\/v\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** The lean recognizer: null, or a GET/HEAD of a safe /v/ path from a head with one Host. */
export const leanHttp: FuzzTarget = {
  name: 'lean-http',
  checks: 'returns null or GET/HEAD of a /v/<id>/<path> with no "//" or "/." and exactly one Host line; never accepts a head carrying Range, If-*, CMCD, a body, Upgrade or Transfer-Encoding',
  dict: ['GET /v/abc/master.m3u8 HTTP/1.1\r\n', 'HEAD ', 'Host: a\r\n', 'Connection: keep-alive\r\n', 'Range: bytes=0-1\r\n', 'If-None-Match: "x"\r\n', 'CMCD-Request: bl=1\r\n', 'Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n', 'Upgrade: h2c\r\n', '\r\n\r\n', '/..', '//', ' HTTP/1.1'],
  maxLen: 4096,
  run(input) {
    const text = input.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return;
    const got = parseLeanRequest(text, 0, end);
    if (got === null) return;
    invariant(got.method === 'GET' || got.method === 'HEAD', `method ${got.method}`);
    invariant(SAFE_PATH.test(got.path) && !got.path.includes('//') && !got.path.includes('/.'), `unsafe path accepted: ${JSON.stringify(got.path)}`);
    const lines = text.slice(0, end).split('\r\n').slice(1);
    const names = lines.map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
    invariant(names.filter((n) => n === 'host').length === 1, 'accepted without exactly one Host');
    const bad = names.find((n) => n === 'range' || n.startsWith('if-') || n.startsWith('cmcd-') || n === 'content-length' || n === 'transfer-encoding' || n === 'upgrade' || n === 'expect');
    invariant(bad === undefined, `accepted a head with ${bad}`);
  },
};

/** Range + If-*: ranges inside the object, ≤ MAX_RANGES, results from the allowed set. */
export const rangeHeaders: FuzzTarget = {
  name: 'range',
  checks: 'parseRange returns null, "unsatisfiable" or 1..MAX_RANGES ranges with 0 ≤ start ≤ end < size; evaluatePreconditions returns proceed/304/412 (304 only for GET/HEAD); ifRangeAllows never accepts a weak tag',
  dict: ['bytes=', 'bytes=0-', '-500', '0-0', ', ', '18446744073709551616', 'W/"', '"abc"', '*', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Sun, 06 Nov 1994 08:49:37 GMT', '\n'],
  maxLen: 1024,
  run(input) {
    const size = input.length > 0 ? input[0]! * 997 : 0;
    // The input carries up to four header values separated by newlines: Range, If-Match, If-None-Match, If-Range/date.
    const [range = '', im, inm, ir] = input.subarray(1).toString('latin1').split('\n');
    const r = parseRange(range, size);
    if (Array.isArray(r)) {
      invariant(r.length >= 1 && r.length <= MAX_RANGES, `${r.length} ranges`);
      for (const x of r) invariant(Number.isSafeInteger(x.start) && Number.isSafeInteger(x.end) && x.start >= 0 && x.start <= x.end && x.end < size, `range ${x.start}-${x.end} of ${size}`);
    } else invariant(r === null || r === 'unsatisfiable', `parseRange returned ${String(r)}`);
    const v = { etag: '"abc"', lastModifiedS: 784111777 };
    for (const method of ['GET', 'PUT']) {
      const res = evaluatePreconditions(method, { 'if-match': im, 'if-none-match': inm, 'if-modified-since': ir, 'if-unmodified-since': ir }, v);
      invariant(res === 'proceed' || res === 412 || (res === 304 && method === 'GET'), `${method} preconditions gave ${res}`);
    }
    if (ir !== undefined && ir.trim().startsWith('W/')) invariant(!ifRangeAllows(ir, v), 'If-Range accepted a weak tag');
  },
};
