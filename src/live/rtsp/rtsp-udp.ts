/**
 * The RTSP server's UDP side: ONE RTP socket and ONE RTCP socket shared by every session (the
 * MediaMTX layout, its 8000/8001 defaults), instead of a port pair per session. Two fixed ports are
 * two firewall rules, a known socket count however many sessions run, and no port-range
 * exhaustion; the cost is that datagrams are matched to sessions by source address — which is what
 * SETUP's `client_port` gives (RFC 2326 §12.39: the client sends from and receives on those ports,
 * as ffmpeg, GStreamer and VLC do). A datagram from an address no session registered is dropped
 * and counted.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

/** Receives the datagrams of one registered client address. */
export type UdpHandler = (data: Buffer, rtcp: boolean) => void;

/** The shared RTP/RTCP sockets. */
export class RtspUdp {
  /** Datagrams from no registered address. */
  stray = 0;
  private readonly routes = new Map<string, UdpHandler>();
  private rtp: dgram.Socket | null = null;
  private rtcp: dgram.Socket | null = null;
  private ports = { rtpPort: 0, rtcpPort: 0 };
  /** Dual-stack sockets (bound to an IPv6 address) see and need IPv4 peers as `::ffff:a.b.c.d`. */
  private v6 = false;

  constructor(private readonly host: string) {}

  /** Bind both sockets; resolves to their ports. */
  async listen(rtpPort: number, rtcpPort: number): Promise<{ rtpPort: number; rtcpPort: number }> {
    const type = isIP(this.host) === 6 ? 'udp6' : 'udp4';
    this.v6 = type === 'udp6';
    const bind = (port: number, rtcp: boolean) => new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket({ type, reuseAddr: false });
      s.once('error', reject);
      s.on('message', (msg, rinfo) => {
        const h = this.routes.get(`${rinfo.address.replace(/^::ffff:/, '')}:${rinfo.port}`); // routes hold plain IPv4 addresses
        if (h === undefined) this.stray++;
        else h(msg, rtcp);
      });
      s.bind(port, this.host, () => {
        s.off('error', reject);
        s.on('error', () => {}); // ICMP port unreachable from a vanished client: nothing to do, the session times out
        resolve(s);
      });
    });
    this.rtp = await bind(rtpPort, false);
    try {
      this.rtcp = await bind(rtcpPort, true);
    } catch (err) {
      this.rtp.close();
      this.rtp = null;
      throw err;
    }
    this.ports = { rtpPort: this.rtp.address().port, rtcpPort: this.rtcp.address().port };
    return this.ports;
  }

  /** The bound ports (the `server_port` of SETUP answers). */
  serverPorts(): { rtpPort: number; rtcpPort: number } {
    return this.ports;
  }

  /** Route datagrams from `address:port` to `h` until the returned function is called. */
  route(address: string, port: number, h: UdpHandler): () => void {
    const key = `${address}:${port}`;
    this.routes.set(key, h);
    return () => {
      if (this.routes.get(key) === h) this.routes.delete(key);
    };
  }

  /** Whether `address:port` already belongs to a session. */
  taken(address: string, port: number): boolean {
    return this.routes.has(`${address}:${port}`);
  }

  /** Send an RTP (or RTCP) datagram, possibly in parts (header, payload) sent as one. */
  send(rtcp: boolean, parts: Buffer[], port: number, address: string): void {
    (rtcp ? this.rtcp : this.rtp)?.send(parts, port, this.v6 && isIP(address) === 4 ? `::ffff:${address}` : address);
  }

  /** Close both sockets. */
  close(): void {
    this.rtp?.close();
    this.rtcp?.close();
    this.rtp = null;
    this.rtcp = null;
    this.routes.clear();
  }
}
