/**
 * parseLeanRequest: the lean HTTP/1.1 path may answer only the plain player request; every other
 * head must return null so node:http (llhttp) answers it. A wrong "yes" here would answer a
 * request node:http answers differently (a range, a conditional, a malformed head).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLeanRequest } from '../../src/http/delivery/workers/lean-request.js';

const PATH = '/v/abc_DEF-1/v360/seg_00001.m4s';

/** Parse one head given as its request line + field lines (CRLFs added). */
function parse(line: string, fields: string[] = ['Host: 127.0.0.1:8080'], prefix = '') {
  const text = `${prefix}${line}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
  const end = text.indexOf('\r\n\r\n', prefix.length);
  return parseLeanRequest(text, prefix.length, end);
}

test('the plain player request is recognised (GET and HEAD, any Host value, ignored fields)', () => {
  assert.deepEqual(parse(`GET ${PATH} HTTP/1.1`), { method: 'GET', path: PATH });
  assert.deepEqual(parse(`HEAD ${PATH} HTTP/1.1`, ['host: x']), { method: 'HEAD', path: PATH });
  const browser = ['Host: a', 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/130', 'Accept: */*', 'Accept-Encoding: gzip, deflate, br', 'Origin: https://player.example', 'Referer: https://player.example/w?id=1', 'Sec-Fetch-Mode: cors', 'Test: 1', 'Tea: 2', 'Hostname: 3', 'X-Range: 4', 'Accept-Language: de-DE,de;q=0.9,\xe9'];
  assert.deepEqual(parse(`GET ${PATH} HTTP/1.1`, browser), { method: 'GET', path: PATH });
});

test('Connection: keep-alive (any case, OWS) is answered; any other Connection is not', () => {
  for (const v of ['keep-alive', 'Keep-Alive', ' KEEP-ALIVE\t', '']) {
    const want = v === '' ? null : { method: 'GET', path: PATH };
    assert.deepEqual(parse(`GET ${PATH} HTTP/1.1`, ['Host: a', `Connection:${v}`]), want, JSON.stringify(v));
  }
  for (const v of ['close', 'keep-alive, Upgrade', 'Upgrade', 'keep-alive\xa0']) assert.equal(parse(`GET ${PATH} HTTP/1.1`, ['Host: a', `Connection: ${v}`]), null, v);
});

test('fields that change the answer send the request to node:http', () => {
  for (const f of ['Range: bytes=0-1', 'range: bytes=0-1', 'If-None-Match: *', 'If-Modified-Since: x', 'if-range: "e"', 'CMCD-Request: bl=100', 'cmcd-session: sid="x"', 'Content-Length: 0', 'Transfer-Encoding: chunked', 'Expect: 100-continue', 'Upgrade: websocket', 'TE: trailers', 'Trailer: x']) {
    assert.equal(parse(`GET ${PATH} HTTP/1.1`, ['Host: a', f]), null, f);
  }
});

test('exactly one Host', () => {
  assert.equal(parse(`GET ${PATH} HTTP/1.1`, []), null, 'no Host');
  assert.equal(parse(`GET ${PATH} HTTP/1.1`, ['Host: a', 'HOST: b']), null, 'two');
});

test('anything but the strict request line is refused', () => {
  for (const line of [
    `GET ${PATH} HTTP/1.0`, `POST ${PATH} HTTP/1.1`, `get ${PATH} HTTP/1.1`, `GET ${PATH}?x=1 HTTP/1.1`, `GET ${PATH}  HTTP/1.1`,
    'GET /v/abc//v360/x.m4s HTTP/1.1', 'GET /v/abc/v360/../x.m4s HTTP/1.1', 'GET /v/abc/.hidden HTTP/1.1', 'GET /s/tok/abc/x.m4s HTTP/1.1',
    'GET /v/abc/%2e%2e/x HTTP/1.1', `GET /v/abc/${'a'.repeat(402)} HTTP/1.1`, `GET /v/${'a'.repeat(65)}/x.m4s HTTP/1.1`, `GET http://h${PATH} HTTP/1.1`,
  ]) assert.equal(parse(line), null, line);
});

test('malformed field lines are refused (obs-fold, space before colon, no colon, control bytes)', () => {
  for (const fields of [
    ['Host: a', ' folded'], ['Host : a'], ['Host: a', 'NoColon'], ['Host: a', 'X: a\rb'], ['Host: a', 'X: a\x00b'], ['Host: a', 'X: a\x7fb'], ['Ho(st: a'], ['Host: a', ': empty-name'],
  ]) assert.equal(parse(`GET ${PATH} HTTP/1.1`, fields), null, JSON.stringify(fields));
});

test('pipelined heads are parsed at their offset, and a field past the head does not count', () => {
  const first = `GET ${PATH} HTTP/1.1\r\nHost: a\r\n\r\n`;
  const second = `HEAD ${PATH} HTTP/1.1\r\nHost: b\r\nRange: bytes=0-1\r\n\r\n`;
  const text = first + second;
  assert.deepEqual(parseLeanRequest(text, 0, first.length - 4), { method: 'GET', path: PATH }, 'the Range of the next head is not this one\'s');
  assert.equal(parseLeanRequest(text, first.length, text.length - 4), null);
  assert.deepEqual(parse(`GET ${PATH} HTTP/1.1`, ['Host: a'], 'garbage before'), { method: 'GET', path: PATH });
});
