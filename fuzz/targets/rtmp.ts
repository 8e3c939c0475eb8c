/**
 * RTMP ingest: the handshake, the chunk stream (RTMP spec §5.3) and AMF0 command bodies, fed in
 * arbitrary splits as a socket would deliver them.
 */
import { decodeAmf0, encodeAmf0 } from '../../src/live/rtmp/amf0.js';
import { ChunkReader, type RtmpMessage } from '../../src/live/rtmp/chunk-reader.js';
import { HANDSHAKE_SIZE, ServerHandshake } from '../../src/live/rtmp/handshake.js';
import { invariant, rejectsOnlyWithCatalog, type FuzzTarget } from '../engine/target.js';

const LIMITS = { maxMessageBytes: 64 * 1024, maxChunkStreams: 8 };
/** RTMP message types carrying AMF0 (command 20, data 18). */
const AMF0_TYPES = new Set([18, 20]);

/** Splits `b` into pieces whose sizes come from its own bytes, so splits vary with the input. */
function pieces(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < b.length; k++) {
    const n = 1 + ((b[k % b.length]! * 7 + k) % 700);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Handshake, then chunks: messages stay within the limits, AMF0 bodies decode or are refused. */
export const rtmpChunk: FuzzTarget = {
  name: 'rtmp-chunk',
  checks: 'handshake then chunk stream, with Set Chunk Size and Abort applied as the session does: the same messages whether the stream arrives whole or in pieces; only RTMP_PROTOCOL/catalog errors; every message ≤ maxMessageBytes; chunk streams ≤ maxChunkStreams; AMF0 command bodies decode or throw a catalog error',
  dict: [Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4]), 'connect', 'publish', 'createStream', '@setDataFrame', 'onMetaData', 'app', 'tcUrl', Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1]), Buffer.from([0xc3]), Buffer.from([0x43]), Buffer.from([0xff, 0xff, 0xff])],
  maxLen: 3 * HANDSHAKE_SIZE + 16 * 1024,
  run(input) {
    const split = session(input, pieces(input));
    const whole = session(input, [input]);
    // TCP may cut the stream anywhere: where it is cut must not change the messages.
    if (split !== null && whole !== null) invariant(split.join() === whole.join(), `split input gave ${split.length} messages, whole input ${whole.length}`);
  },
};

/** Runs handshake + chunk reader over `parts`; message signatures, or null when the session was refused. */
function session(input: Buffer, parts: Buffer[]): string[] | null {
  const hs = new ServerHandshake();
  const messages: RtmpMessage[] = [];
  let closed = false;
  // Protocol control messages act on the reader as rtmp-session.ts does (RTMP spec §5.4.1–5.4.2).
  const reader: ChunkReader = new ChunkReader(LIMITS, (m) => {
    messages.push(m);
    if (m.typeId === 1) {
      const size = m.payload.length >= 4 ? m.payload.readUInt32BE(0) & 0x7fffffff : 0;
      if (size < 1) closed = true;
      else reader.chunkSize = size;
    } else if (m.typeId === 2 && m.payload.length >= 4) reader.abort(m.payload.readUInt32BE(0));
  });
  let refused = true;
  rejectsOnlyWithCatalog(() => {
    let done = false;
    for (const p of parts) {
      if (closed) break;
      if (!done) {
        const step = hs.feed(p);
        done = step.done;
        if (done && step.rest) reader.push(step.rest);
      } else reader.push(p);
    }
    refused = false;
  });
  const streams = (reader as unknown as { streams: Map<number, unknown> }).streams;
  invariant(streams.size <= LIMITS.maxChunkStreams, `${streams.size} chunk streams held, limit ${LIMITS.maxChunkStreams}`);
  for (const m of messages) {
    invariant(m.payload.length <= LIMITS.maxMessageBytes, `message of ${m.payload.length} bytes passed the ${LIMITS.maxMessageBytes}-byte limit`);
    if (AMF0_TYPES.has(m.typeId)) rejectsOnlyWithCatalog(() => void decodeAmf0(m.payload));
  }
  return refused || closed || input.length === 0 ? null : messages.map((m) => `${m.typeId}/${m.streamId}/${m.timestamp}/${m.payload.length}/${m.payload.toString('base64', 0, 12)}`);
}

/** AMF0 alone: decode or a catalog error; what decodes re-encodes and decodes to the same values. */
export const amf0: FuzzTarget = {
  name: 'amf0',
  checks: 'decode returns values or throws a catalog error; decode(encode(values)) equals values (round trip)',
  dict: [Buffer.from([0x02, 0, 7]), Buffer.from([0x03]), Buffer.from([0, 0, 9]), Buffer.from([0x08, 0, 0, 0, 1]), Buffer.from([0x0a, 0, 0, 0, 2]), Buffer.from([0x0b]), Buffer.from([0x05]), Buffer.from([0x06]), Buffer.from([0x0c, 0, 1, 0, 0]), 'onMetaData', 'duration'],
  maxLen: 4096,
  run(input) {
    let values: ReturnType<typeof decodeAmf0> | undefined;
    rejectsOnlyWithCatalog(() => {
      values = decodeAmf0(input);
    });
    if (values === undefined) return;
    let again: ReturnType<typeof decodeAmf0> | undefined;
    try {
      again = decodeAmf0(encodeAmf0(...values));
    } catch (err) {
      invariant(false, `re-encoded AMF0 does not decode: ${(err as Error).message}`);
    }
    invariant(JSON.stringify(again) === JSON.stringify(values), 'AMF0 round trip changed the values');
  },
};
