/**
 * What an RTSP server (a camera Strom pulls from) sends Strom's RTSP client: responses
 * (RFC 2326 §7) with their WWW-Authenticate challenges (§15, RFC 7616), Transport answers
 * (§12.39), Content-Base (§C.1.1) and SDP bodies, interleaved with `$` frames (§10.12), fed in
 * arbitrary splits as they arrive from a socket.
 */
import { ClientAuth, parseChallenges } from '../../src/live/rtsp/digest-client.js';
import { contentBase, resolveControl } from '../../src/live/rtsp/rtsp-client-url.js';
import { requestHead } from '../../src/live/rtsp/rtsp-client.js';
import { RtspReader } from '../../src/live/rtsp/rtsp-message.js';
import { parseTransportAnswer } from '../../src/live/rtsp/rtsp-transport.js';
import { parseSdp } from '../../src/live/rtsp/sdp.js';
import { inPieces, invariant, rejectsOnlyWithCatalog, sameWhenSplit, type FuzzTarget } from '../engine/target.js';

const LIMITS = { maxHeaderBytes: 4096, maxBodyBytes: 4096 };

/** Responses in pieces: only RTSP_PROTOCOL / RTSP_LIMIT; split-invariant; what the client builds from them stays one line. */
export const rtspResponse: FuzzTarget = {
  name: 'rtsp-response',
  checks: 'only RTSP_PROTOCOL/RTSP_LIMIT; the same items whether the bytes arrive whole or in pieces; bytes held ≤ header + body limits (or one 64 KiB frame); statuses of three digits; bodies of exactly Content-Length bytes; request heads built from any challenge, Session value and SDP control URL keep their lines; Transport answers give ports within range; SDP bodies refused only with RTSP_PROTOCOL',
  dict: ['RTSP/1.0 200 OK\r\n', 'RTSP/1.0 401 Unauthorized\r\n', 'RTSP/1.0 302 Found\r\n', 'CSeq: 1\r\n', 'Content-Length: 10\r\n', 'WWW-Authenticate: Digest realm="a", nonce="b", qop="auth"\r\n', 'WWW-Authenticate: Basic realm="x"\r\n', 'algorithm=SHA-256', 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n', 'server_port=6970-6971', 'Session: 12;timeout=60\r\n', 'Content-Base: rtsp://h/x/\r\n', '\r\n\r\n', Buffer.from([0x24, 0, 0, 4]), 'm=video 0 RTP/AVP 96\r\n', 'a=control:trackID=0\r\n'],
  maxLen: 12 * 1024,
  run(input) {
    sameWhenSplit(input, 700, (size) => read(input, size));
  },
};

/** Reads `input` pushed in pieces of `size(k)` bytes; item signatures, or null when refused. */
function read(input: Buffer, size: (k: number) => number): string[] | null {
  const r = new RtspReader(LIMITS);
  return inPieces(input, size, ['RTSP_PROTOCOL', 'RTSP_LIMIT'], (piece) => {
    const sigs: string[] = [];
    for (const item of r.push(piece)) {
      if (item.type === 'data') {
        invariant(item.data.length <= 0xffff, `interleaved frame of ${item.data.length} bytes`);
        sigs.push(`$${item.channel}/${item.data.length}`);
      } else if (item.type === 'response') {
        invariant(item.status >= 0 && item.status <= 999, `status ${item.status}`);
        invariant(item.body.length === Number(item.headers.get('content-length') ?? 0), `body of ${item.body.length} bytes`);
        invariant(item.authenticate.length <= 8, `${item.authenticate.length} challenges kept`);
        client(item.headers, item.authenticate, item.body);
        sigs.push(`${item.status}/${[...item.headers].join()}/${item.body.length}`);
      } else sigs.push(`req/${item.request.method}`);
    }
    invariant(r.buffered <= LIMITS.maxHeaderBytes + LIMITS.maxBodyBytes + 0x10004 + piece.length, `${r.buffered} bytes held`);
    return sigs;
  });
}

/** What Strom's client derives from one response. */
function client(headers: Map<string, string>, authenticate: string[], body: Buffer): void {
  const base = contentBase(headers, 'rtsp://h/x');
  const controls: string[] = [];
  rejectsOnlyWithCatalog(() => {
    for (const m of parseSdp(body.toString('utf8')).media) controls.push(resolveControl(base, m.control));
  }, ['RTSP_PROTOCOL']);
  const auths = parseChallenges(authenticate).map((c) => new ClientAuth(c, { user: 'u', password: 'p' }, () => 'c').header('DESCRIBE', 'rtsp://h/x'));
  for (const uri of [base, ...controls]) {
    const head = requestHead('SETUP', uri, [['Session', headers.get('session') ?? ''], ...auths.map((a): [string, string] => ['Authorization', a])]);
    const lines = head.split('\r\n');
    invariant(lines.length === 2 + 1 + auths.length + 1 && !/[\r\n]/.test(lines.join('')), `request head of ${lines.length} lines: ${JSON.stringify(head.slice(0, 120))}`);
    invariant(lines[0]!.split(' ').length === 3, `request line ${JSON.stringify(lines[0]!.slice(0, 120))}`);
  }
  const t = parseTransportAnswer(headers.get('transport'));
  if (t !== null) for (const [a, b] of [t.interleaved ?? [0, 0], t.serverPort ?? [0, 0]]) invariant(a! >= 0 && a! <= 65535 && b! >= 0 && b! <= 65535, `ports ${a}-${b}`);
}
