/**
 * The UDP side of one track Strom receives as an RTSP client: an RTP socket on an even port and an
 * RTCP socket on the next one (RFC 3550 §11: RTP even, RTCP = RTP + 1; RFC 2326 §12.39
 * `client_port`), each track its own pair. Datagrams are taken only from the server's address (a
 * camera may send from other ports than the `server_port` it announced, so the port is not
 * checked); receiver reports and PLIs go to its RTCP port.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

/** Bind attempts before giving up finding two consecutive free ports. */
const ATTEMPTS = 20;

/** One track's RTP/RTCP socket pair. */
export class ClientUdpPair {
  /** RTP (rtcp=false) or RTCP datagrams from the server. */
  onPacket: (data: Buffer, rtcp: boolean) => void = () => {};
  /** Datagrams from another address, dropped. */
  stray = 0;
  private server: { address: string; rtcpPort: number } | null = null;
  private closed = false;

  private constructor(private readonly rtp: dgram.Socket, private readonly rtcp: dgram.Socket) {
    const on = (s: dgram.Socket, isRtcp: boolean) => s.on('message', (msg, rinfo) => {
      if (this.server === null || rinfo.address.replace(/^::ffff:/, '') !== this.server.address) this.stray++;
      else this.onPacket(msg, isRtcp);
    });
    on(rtp, false);
    on(rtcp, true);
  }

  /** Bind a pair for a server at `address` (its family decides udp4/udp6). */
  static async open(address: string): Promise<ClientUdpPair> {
    const type = isIP(address) === 6 ? 'udp6' : 'udp4';
    let lastError: unknown = null;
    for (let i = 0; i < ATTEMPTS; i++) {
      const rtp = await bind(type, 0).catch((e: unknown) => { lastError = e; return null; });
      if (rtp === null) continue;
      const port = rtp.address().port;
      const rtcp = port % 2 === 0 && port < 65535 ? await bind(type, port + 1).catch((e: unknown) => { lastError = e; return null; }) : null;
      if (rtcp !== null) return new ClientUdpPair(rtp, rtcp);
      rtp.close();
    }
    throw lastError instanceof Error ? lastError : new Error('no free even/odd UDP port pair');
  }

  /** The ports SETUP's `client_port` names. */
  get ports(): { rtpPort: number; rtcpPort: number } {
    return { rtpPort: this.rtp.address().port, rtcpPort: this.rtcp.address().port };
  }

  /** Accept datagrams from `address` from now on; RTCP goes to its `rtcpPort`. */
  peer(address: string, rtcpPort: number): void {
    this.server = { address: address.replace(/^::ffff:/, ''), rtcpPort };
  }

  /** Send an RTCP packet to the server (dropped before `peer` or after `close`). */
  sendRtcp(b: Buffer): void {
    if (this.server === null || this.closed || this.server.rtcpPort <= 0) return;
    this.rtcp.send(b, this.server.rtcpPort, this.server.address);
  }

  /** Close both sockets (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rtp.close();
    this.rtcp.close();
  }
}

function bind(type: 'udp4' | 'udp6', port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, reuseAddr: false });
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind(port, () => {
      s.removeAllListeners('error');
      s.on('error', () => {}); // ICMP port unreachable from a camera that went away: the idle timeout ends the connection
      resolve(s);
    });
  });
}
