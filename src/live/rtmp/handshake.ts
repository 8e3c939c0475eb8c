/**
 * RTMP handshake (Adobe RTMP 1.0 §5.2). Server side: C0 (version 3) + C1 (1536 bytes) in, S0 + S1
 * + S2 out, C2 in. Client side: C0 + C1 out, S0 + S1 + S2 in, C2 (S1 echoed) out. We answer with the simple (non-digest) form: S1 carries zero in its "version"
 * field (bytes 4–7), which tells ffmpeg/librtmp/OBS not to look for the Flash-player HMAC digest,
 * and S2 echoes C1. Incremental: bytes may arrive in any split; the leftover after C2 is the first
 * chunk-stream data.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { fail } from '../../errors.js';

/** Size of C1/S1/C2/S2. */
export const HANDSHAKE_SIZE = 1536;

/** Result of feeding bytes to the handshake. */
export interface HandshakeStep {
  /** Bytes to send to the peer now (S0+S1+S2), if any. */
  reply?: Buffer;
  /** True once C2 has been read. */
  done: boolean;
  /** Bytes after C2 that belong to the chunk stream. */
  rest?: Buffer;
}

/** Server-side handshake state machine. */
export class ServerHandshake {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'c0c1' | 'c2' | 'done' = 'c0c1';

  /** Feed received bytes; throws RTMP_PROTOCOL on a wrong version byte. */
  feed(data: Buffer): HandshakeStep {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    let reply: Buffer | undefined;
    if (this.state === 'c0c1') {
      if (this.buf.length < 1 + HANDSHAKE_SIZE) return { done: false };
      const version = this.buf[0]!;
      if (version !== 3) throw fail('RTMP_PROTOCOL', `handshake version ${version}, expected 3`);
      const c1 = this.buf.subarray(1, 1 + HANDSHAKE_SIZE);
      reply = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
      reply[0] = 3;
      reply.writeUInt32BE(0, 1); // S1 time
      reply.writeUInt32BE(0, 5); // S1 zero → simple handshake
      randomBytes(HANDSHAKE_SIZE - 8).copy(reply, 9);
      c1.copy(reply, 1 + HANDSHAKE_SIZE); // S2 = echo of C1
      this.buf = this.buf.subarray(1 + HANDSHAKE_SIZE);
      this.state = 'c2';
    }
    if (this.state === 'c2' && this.buf.length >= HANDSHAKE_SIZE) {
      const rest = this.buf.subarray(HANDSHAKE_SIZE);
      this.buf = Buffer.alloc(0);
      this.state = 'done';
      return { reply, done: true, rest: rest.length > 0 ? rest : undefined };
    }
    return { reply, done: false };
  }
}

/** Client side C0+C1 (for our own publisher/player in tests and bench). */
export function clientHello(): Buffer {
  const b = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
  b[0] = 3;
  b.writeUInt32BE(0, 1);
  b.writeUInt32BE(0, 5);
  randomBytes(HANDSHAKE_SIZE - 8).copy(b, 9);
  return b;
}

/** Client side of the handshake on a connecting socket: C0+C1, wait for S0+S1+S2, send C2; resolves with bytes read past S2. */
export function clientHandshake(socket: Socket, secure: boolean): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 1 + 2 * HANDSHAKE_SIZE) return;
      socket.off('data', onData);
      if (buf[0] !== 3) return void socket.destroy(fail('RTMP_PROTOCOL', `handshake version ${buf[0]!}, expected 3`));
      socket.write(buf.subarray(1, 1 + HANDSHAKE_SIZE)); // C2 = echo of S1
      resolve(buf.subarray(1 + 2 * HANDSHAKE_SIZE));
    };
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(clientHello()));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(fail('RTMP_PROTOCOL', 'closed during handshake')));
  });
}
