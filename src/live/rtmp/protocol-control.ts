/**
 * Protocol control of one side of an RTMP connection (Adobe RTMP 1.0 §5.4, §7.1.7), the same for
 * the server session and the client: Set Chunk Size and Abort change the chunk reader, Window
 * Acknowledgement Size sets how often the received byte count is acknowledged, Set Peer Bandwidth
 * is answered with this side's window when it differs (§5.4.5), and PingRequest gets its
 * PingResponse (servers drop peers that ignore pings). A peer that stops receiving
 * acknowledgements may stop sending (FMS, Wowza and many CDNs do), so a player must send them.
 */
import { fail } from '../../errors.js';
import type { ChunkReader, RtmpMessage } from './chunk-reader.js';
import { acknowledgement, MSG, userControl, windowAckSize } from './chunk-writer.js';

/** The control state of one RTMP connection. */
export class RtmpControl {
  private bytesIn = 0;
  private lastAck = 0;
  private peerWindow = 0;
  private windowSent = 0;

  constructor(
    private readonly reader: ChunkReader,
    private readonly write: (b: Buffer) => void,
  ) {}

  /** Count `n` bytes received; acknowledges once a window's worth arrived since the last acknowledgement. */
  received(n: number): void {
    this.bytesIn += n;
    if (this.peerWindow > 0 && this.bytesIn - this.lastAck >= this.peerWindow) {
      this.lastAck = this.bytesIn;
      this.write(acknowledgement(this.bytesIn));
    }
  }

  /** Remember that this side announced `size` as its window (sent with windowAckSize). */
  announced(size: number): void {
    this.windowSent = size;
  }

  /** Handle a protocol control or ping message; false for every other message. Throws RTMP_PROTOCOL on a bad chunk size. */
  handle(m: RtmpMessage): boolean {
    const p = m.payload;
    switch (m.typeId) {
      case MSG.SET_CHUNK_SIZE: {
        const size = p.length >= 4 ? p.readUInt32BE(0) & 0x7fffffff : 0;
        if (size < 1) throw fail('RTMP_PROTOCOL', `bad chunk size ${size}`);
        this.reader.chunkSize = size;
        return true;
      }
      case MSG.ABORT:
        if (p.length >= 4) this.reader.abort(p.readUInt32BE(0));
        return true;
      case MSG.WINDOW_ACK_SIZE:
        if (p.length >= 4) this.peerWindow = p.readUInt32BE(0);
        return true;
      case MSG.SET_PEER_BANDWIDTH:
        if (p.length >= 4 && p.readUInt32BE(0) !== this.windowSent) {
          this.windowSent = p.readUInt32BE(0);
          this.write(windowAckSize(this.windowSent));
        }
        return true;
      case MSG.ACK:
        return true;
      case MSG.USER_CONTROL:
        if (p.length >= 6 && p.readUInt16BE(0) === 6) this.write(userControl(7, p.readUInt32BE(2)));
        return true;
      default:
        return false;
    }
  }
}
