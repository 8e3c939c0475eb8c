/**
 * An SRT reader: a hub reader whose units go through a TS muxer into 1316-byte SRT payloads. The
 * reader starts at the stream's cached GOP (keyframe first), so a player decodes at once. UDP has
 * no backpressure: the connection's send buffer is a fixed ring and the reader's queue limits
 * apply as for every viewer, so a reader that cannot keep up loses packets, not memory.
 */
import type { Logger } from 'pino';
import type { MediaUnit } from '../stream/media-unit.js';
import type { Reader } from '../stream/reader.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { SrtConnection } from './protocol/connection.js';
import type { SrtStats } from './srt-stats.js';
import { SrtTsWriter } from './srt-ts-writer.js';

/** Attach a reader of `streamId` to `conn`; throws (LIVE_STREAM_NOT_FOUND…) when it cannot. */
export function startSrtPlay(conn: SrtConnection, registry: StreamRegistry, streamId: string, stats: SrtStats, log: Logger): Reader {
  const out = new SrtTsWriter(conn);
  let bytes = 0;
  const reader = registry.addReader(streamId, 'srt', {
    write(units: readonly MediaUnit[]) {
      const sent = out.write(units);
      bytes += sent;
      stats.bytesOut += sent;
      return true;
    },
    close(reason: string) {
      conn.close(reason);
    },
  });
  conn.onData = () => {}; // a reader sends nothing but control packets
  conn.whenClosed((reason) => {
    reader.close(reason);
    log.info({ reason, bytesOut: bytes, retransmitted: conn.sender.stats.retransmitted, dropped: conn.sender.stats.dropped }, 'srt play ended');
  });
  return reader;
}
