/**
 * The Transport header (RFC 2326 §12.39, RFC 7826 §18.54): what a client asks for in SETUP and
 * what the server answers. Strom offers unicast RTP over the RTSP connection
 * (`RTP/AVP/TCP;interleaved=a-b`) or over UDP (`RTP/AVP[/UDP];unicast;client_port=a-b`, sent from
 * the server's shared RTP/RTCP port pair). A client may list alternatives separated by commas
 * (§12.39 "in order of preference"): the first one Strom supports is chosen. Multicast is not
 * offered: a request for it alone is answered 461 Unsupported Transport. As a client (pulling from a
 * camera) Strom reads the server's answer with parseTransportAnswer.
 */

/** One chosen transport. */
export type RtspTransport =
  | { kind: 'tcp'; rtpChannel: number; rtcpChannel: number }
  | { kind: 'udp'; rtpPort: number; rtcpPort: number };

/** Pick the first supported transport of a Transport header, or null. */
export function parseTransport(header: string | undefined): RtspTransport | null {
  if (header === undefined) return null;
  for (const spec of header.split(',')) {
    const { proto, p } = transportSpec(spec);
    if (p.has('multicast')) continue;
    const upper = proto.toUpperCase();
    if (upper === 'RTP/AVP/TCP') {
      const pair = portPair(p.get('interleaved') ?? '0-1', 255);
      if (pair !== null) return { kind: 'tcp', rtpChannel: pair[0], rtcpChannel: pair[1] };
    } else if (upper === 'RTP/AVP' || upper === 'RTP/AVP/UDP') {
      const pair = portPair(p.get('client_port') ?? '', 65535);
      if (pair !== null && pair[0] > 0) return { kind: 'udp', rtpPort: pair[0], rtcpPort: pair[1] };
    }
  }
  return null;
}

/** One transport spec: its protocol and its parameters (names lower-cased). */
function transportSpec(spec: string): { proto: string; p: Map<string, string> } {
  const [proto = '', ...params] = spec.trim().split(';').map((s) => s.trim());
  const p = new Map<string, string>();
  for (const kv of params) {
    const eq = kv.indexOf('=');
    p.set((eq < 0 ? kv : kv.slice(0, eq)).toLowerCase(), eq < 0 ? '' : kv.slice(eq + 1));
  }
  return { proto, p };
}

/** `a-b` (or `a` alone, then b = a + 1), each in 0..max. */
function portPair(v: string, max: number): [number, number] | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
  if (m === null) return null;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a + 1 : Number(m[2]);
  return a <= max && b <= max ? [a, b] : null;
}

/** The Transport header of a SETUP answer. */
export function transportHeader(t: RtspTransport, ssrc: number, server: { rtpPort: number; rtcpPort: number } | null, record: boolean): string {
  const ssrcHex = (ssrc >>> 0).toString(16).toUpperCase().padStart(8, '0');
  const mode = record ? ';mode=record' : '';
  if (t.kind === 'tcp') return `RTP/AVP/TCP;unicast;interleaved=${t.rtpChannel}-${t.rtcpChannel};ssrc=${ssrcHex}${mode}`;
  const sp = server === null ? '' : `;server_port=${server.rtpPort}-${server.rtcpPort}`;
  return `RTP/AVP;unicast;client_port=${t.rtpPort}-${t.rtcpPort}${sp};ssrc=${ssrcHex}${mode}`;
}

/** What a server's SETUP answer says about the transport it chose (as a client reads it). */
export interface TransportAnswer {
  tcp: boolean;
  /** `interleaved=a-b`, or null. */
  interleaved: [number, number] | null;
  /** `server_port=a-b`, or null. */
  serverPort: [number, number] | null;
  /** `source=`: where the server sends from when it is not the RTSP host, or null. */
  source: string | null;
}

/** Read a SETUP answer's Transport header (the first transport spec); null when absent or not RTP/AVP. */
export function parseTransportAnswer(header: string | undefined): TransportAnswer | null {
  if (header === undefined) return null;
  const { proto, p } = transportSpec(header.split(',')[0] ?? '');
  const upper = proto.toUpperCase();
  if (!upper.startsWith('RTP/AVP')) return null;
  const pair = (k: string, max: number) => (p.has(k) ? portPair(p.get(k)!, max) : null);
  const source = p.get('source') ?? null;
  return { tcp: upper === 'RTP/AVP/TCP', interleaved: pair('interleaved', 255), serverPort: pair('server_port', 65535), source: source !== null && /^[0-9a-fA-F.:]{2,45}$/.test(source) ? source : null };
}
