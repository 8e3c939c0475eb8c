/**
 * SRT datagrams (SRT RFC draft §3): packet header, handshake CIF with its extensions (§3.2.1) and
 * NAK loss lists (§3.2.5), as the listener reads them from any UDP sender; and the receiver's
 * window logic those packets drive (§4.5: loss detection, TSBPD drops, DROPREQ).
 */
import { CTRL, parseLossList, parsePacket } from '../../src/live/srt/protocol/packet.js';
import { MAX_STREAM_ID, parseHandshake } from '../../src/live/srt/protocol/handshake.js';
import { SrtReceiver } from '../../src/live/srt/protocol/receiver.js';
import { seqAdd, seqOff } from '../../src/live/srt/protocol/seq.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

const MAX_LOSS = 1024;

/** One datagram: null, or a packet whose fields are in range; handshakes and loss lists bounded. */
export const srtPacket: FuzzTarget = {
  name: 'srt-packet',
  checks: 'never throws; header fields in range; handshake stream id ≤ 512 bytes, extension list ≤ CIF words; loss list ≤ maxPackets in total with forward ranges of 31-bit sequence numbers',
  dict: [Buffer.from([0x80, 0, 0, 0]), Buffer.from([0x80, 3, 0, 0]), Buffer.from([0x80, 2, 0, 0]), Buffer.from([0, 0, 0, 5]), Buffer.from([0, 5, 0, 2]), Buffer.from([0, 1, 0, 3]), Buffer.from([0, 3, 0, 4]), Buffer.from([0x4a, 0x17]), Buffer.from([0xff, 0xff, 0xff, 0xff]), '#!::r=live,m=publish'],
  maxLen: 1500,
  run(input) {
    const p = parsePacket(input);
    if (p === null) {
      invariant(input.length < 16, `a ${input.length}-byte datagram refused`);
      return;
    }
    if (!p.control) {
      invariant(p.seq >= 0 && p.seq <= 0x7fffffff && p.msgNo <= 0x03ffffff && p.keyFlags <= 3, 'data header field out of range');
      return;
    }
    if (p.type === CTRL.HANDSHAKE) {
      const h = parseHandshake(p.cif);
      if (h === null) return;
      invariant(h.streamId === undefined || Buffer.byteLength(h.streamId) <= MAX_STREAM_ID * 3, `stream id of ${h.streamId?.length} chars`);
      invariant(h.otherExtensions.length <= p.cif.length / 4, 'more extensions than words');
    } else if (p.type === CTRL.NAK) {
      const ranges = parseLossList(p.cif, MAX_LOSS);
      let total = 0;
      for (const [from, to] of ranges) {
        invariant(from >= 0 && from <= 0x7fffffff && to >= 0 && to <= 0x7fffffff, `range ${from}-${to}`);
        const n = seqOff(from, to);
        invariant(n >= 0, `backward range ${from}-${to}`);
        total += n + 1;
      }
      invariant(total <= MAX_LOSS, `loss list of ${total} packets over ${MAX_LOSS}`);
    }
  },
};

const WINDOW = 64;

/** Receiver state machine: in-order delivery once per packet, held ≤ window, losses inside the window. */
export const srtReceiver: FuzzTarget = {
  name: 'srt-receiver',
  checks: 'data packets (any order, duplicates, far jumps), latency drops and DROPREQ: every packet is delivered at most once and in sequence order, held packets ≤ window, NAK ranges forward and ≤ the asked count',
  dict: [Buffer.from([0, 0, 1, 0]), Buffer.from([0, 0, 0, 0]), Buffer.from([6, 0, 0, 200]), Buffer.from([7, 0, 5, 0]), Buffer.from([0, 0x7f, 0xff, 0]), Buffer.from([0, 0x80, 0, 0])],
  maxLen: 4096,
  run(input) {
    const initial = 0x7fffffc0; // near the wrap of 31-bit sequence numbers
    let lastDelivered: number | null = null;
    const delivered = new Set<number>();
    const r = new SrtReceiver(initial, 120, WINDOW, (payload) => {
      const seq = payload.readUInt32BE(0);
      invariant(!delivered.has(seq), `packet ${seq} delivered twice`);
      invariant(lastDelivered === null || seqOff(lastDelivered, seq) > 0, `packet ${seq} delivered after ${lastDelivered}`);
      delivered.add(seq);
      lastDelivered = seq;
    });
    let now = 0;
    let base = initial;
    for (let i = 0; i + 4 <= input.length; i += 4) {
      const kind = input[i]! % 8;
      const a = input.readInt16BE(i + 1);
      const b = input[i + 3]!;
      if (kind <= 5) {
        const seq = seqAdd(base, a % 96);
        const payload = Buffer.alloc(4);
        payload.writeUInt32BE(seq);
        r.receive(seq, payload, now);
        if (b & 1) base = seqAdd(base, 1);
      } else if (kind === 6) {
        now += b;
        r.dropTooLate(now);
      } else r.dropUpTo(seqAdd(base, a));
      invariant(r.heldPackets() <= WINDOW, `${r.heldPackets()} packets held, window ${WINDOW}`);
      const ranges = r.lossRanges(8);
      invariant(ranges.length <= 8, `${ranges.length} loss ranges for 8 asked`);
      for (const [from, to] of ranges) invariant(seqOff(from, to) >= 0 && seqOff(from, to) < WINDOW * 2, `loss range ${from}-${to}`);
    }
  },
};
