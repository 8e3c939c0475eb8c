/**
 * Live units out over SRT: each connection has its own TS muxer (continuity counters and PSI
 * are per receiver) whose 1316-byte chunks (7 TS packets, SRT's live payload) are sent as they
 * come. Used by SRT readers of the listener and by srt:// restream outputs.
 */
import { TsMuxer, tsCanCarry } from '../formats/ts/ts-muxer.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { SrtConnection } from './protocol/connection.js';

/** Mux live units to MPEG-TS and send them on one SRT connection. */
export class SrtTsWriter {
  private readonly muxer = new TsMuxer();

  constructor(private readonly conn: SrtConnection) {}

  /** Send `units`; returns the TS bytes handed to SRT. Tracks TS cannot carry (AV1…) are skipped. */
  write(units: readonly MediaUnit[]): number {
    let bytes = 0;
    for (const u of units) {
      if (u.kind === 'data' || !tsCanCarry(u.codec)) continue;
      for (const chunk of this.muxer.push(u)) {
        bytes += chunk.length;
        this.conn.send(chunk);
      }
    }
    return bytes;
  }
}
