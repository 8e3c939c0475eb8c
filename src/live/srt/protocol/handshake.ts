/**
 * The SRT handshake control information field and its HSv5 extensions (draft-sharabayko-srt-01
 * §3.2.1, libsrt docs/features/handshake.md): the 48-byte UDT-legacy structure, then extension
 * blocks (16-bit type, 16-bit length in 32-bit words). Strom reads HSREQ/HSRSP (flags and latency),
 * KMREQ/KMRSP (key material, kept as bytes for crypto.ts) and SID (the stream id); other blocks
 * (congestion controller, packet filter, group) are kept raw so a refusal can name them.
 */

/** Handshake request types (the "Connection Type" field). */
export const HS_TYPE = { WAVEAHAND: 0, INDUCTION: 1, CONCLUSION: 0xffffffff, AGREEMENT: 0xfffffffe, DONE: 0xfffffffd } as const;

/** Magic value of the Extension Field in an HSv5 listener's induction response. */
export const SRT_MAGIC = 0x4a17;
/** Legacy UDT socket type a caller puts in its induction request. */
export const UDT_DGRAM = 2;

/** Extension flags of a conclusion handshake's Extension Field. */
export const HS_EXT = { HSREQ: 1, KMREQ: 2, CONFIG: 4 } as const;

/** Extension block types. */
export const EXT = { HSREQ: 1, HSRSP: 2, KMREQ: 3, KMRSP: 4, SID: 5, CONGESTION: 6, FILTER: 7, GROUP: 8 } as const;

/** SRT option flags of HSREQ/HSRSP. */
export const SRT_FLAG = { TSBPDSND: 0x01, TSBPDRCV: 0x02, HAICRYPT: 0x04, TLPKTDROP: 0x08, NAKREPORT: 0x10, REXMITFLG: 0x20, STREAM: 0x40, FILTER: 0x80 } as const;

/** The flags Strom declares: live mode, TSBPD both ways, too-late drop, periodic NAK, rexmit flag. */
export const STROM_SRT_FLAGS = SRT_FLAG.TSBPDSND | SRT_FLAG.TSBPDRCV | SRT_FLAG.HAICRYPT | SRT_FLAG.TLPKTDROP | SRT_FLAG.NAKREPORT | SRT_FLAG.REXMITFLG;

/** The SRT version Strom announces (1.5.1, the libsrt release it is tested against). */
export const STROM_SRT_VERSION = 0x010501;

/** Rejection reasons (`SRT_REJ_*`), sent as 1000 + reason in the handshake type field. */
export const REJECT = { UNKNOWN: 1000, SYSTEM: 1001, PEER: 1002, RESOURCE: 1003, ROGUE: 1004, BACKLOG: 1005, VERSION: 1008, BADSECRET: 1010, UNSECURE: 1011, CONGESTION: 1013, FILTER: 1014, TIMEOUT: 1016 } as const;
/** Access-control rejections (`SRT_REJX_*`, 1400 + an HTTP-like code; libsrt access-control.md). */
export const REJECT_AC = { BAD_REQUEST: 1400, UNAUTHORIZED: 1401, FORBIDDEN: 1403, NOT_FOUND: 1404, BAD_MODE: 1405, CONFLICT: 1409, INTERNAL: 1500, UNAVAILABLE: 1503 } as const;

/** HSREQ/HSRSP contents. */
export interface SrtHsExt {
  version: number;
  flags: number;
  /** Latency the sender of this block wants for what it receives, ms. */
  rcvLatencyMs: number;
  /** Latency the sender of this block wants its peer to use for what it sends, ms. */
  sndLatencyMs: number;
}

/** A parsed handshake. */
export interface Handshake {
  version: number;
  encryptionField: number;
  extensionField: number;
  initialSeq: number;
  mtu: number;
  flowWindow: number;
  type: number;
  socketId: number;
  cookie: number;
  peerIp: Buffer;
  hs?: SrtHsExt;
  /** KMREQ or KMRSP block contents. */
  km?: Buffer;
  streamId?: string;
  /** Extension types present that Strom does not interpret. */
  otherExtensions: number[];
}

const CIF_BYTES = 48;
/** Longest stream id libsrt accepts (SRTO_STREAMID). */
export const MAX_STREAM_ID = 512;

/** Parse a handshake CIF; null when shorter than the legacy structure or an extension overruns. */
export function parseHandshake(cif: Buffer): Handshake | null {
  if (cif.length < CIF_BYTES) return null;
  const h: Handshake = {
    version: cif.readUInt32BE(0),
    encryptionField: cif.readUInt16BE(4),
    extensionField: cif.readUInt16BE(6),
    initialSeq: cif.readUInt32BE(8) & 0x7fffffff,
    mtu: cif.readUInt32BE(12),
    flowWindow: cif.readUInt32BE(16),
    type: cif.readUInt32BE(20),
    socketId: cif.readUInt32BE(24),
    cookie: cif.readUInt32BE(28),
    peerIp: cif.subarray(32, 48),
    otherExtensions: [],
  };
  let off = CIF_BYTES;
  while (off + 4 <= cif.length) {
    const type = cif.readUInt16BE(off);
    const len = cif.readUInt16BE(off + 2) * 4;
    const body = cif.subarray(off + 4, off + 4 + len);
    if (body.length !== len) return null;
    off += 4 + len;
    if ((type === EXT.HSREQ || type === EXT.HSRSP) && len >= 12) {
      const lat = body.readUInt32BE(8);
      h.hs = { version: body.readUInt32BE(0), flags: body.readUInt32BE(4), rcvLatencyMs: lat >>> 16, sndLatencyMs: lat & 0xffff };
    } else if (type === EXT.KMREQ || type === EXT.KMRSP) h.km = Buffer.from(body);
    else if (type === EXT.SID) {
      if (len > MAX_STREAM_ID) return null;
      h.streamId = unswapString(body);
    } else h.otherExtensions.push(type);
  }
  return h;
}

/** What to put in a handshake. */
export interface HandshakeOut {
  version: number;
  encryptionField?: number;
  extensionField: number;
  initialSeq: number;
  mtu?: number;
  flowWindow?: number;
  type: number;
  socketId: number;
  cookie: number;
  peerAddress?: string;
  hsreq?: SrtHsExt;
  hsrsp?: SrtHsExt;
  kmreq?: Buffer;
  kmrsp?: Buffer;
  streamId?: string;
}

/** Build a handshake CIF with its extension blocks. */
export function buildHandshake(h: HandshakeOut): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(CIF_BYTES);
  head.writeUInt32BE(h.version >>> 0, 0);
  head.writeUInt16BE(h.encryptionField ?? 0, 4);
  head.writeUInt16BE(h.extensionField, 6);
  head.writeUInt32BE(h.initialSeq >>> 0, 8);
  head.writeUInt32BE(h.mtu ?? 1500, 12);
  head.writeUInt32BE(h.flowWindow ?? 8192, 16);
  head.writeUInt32BE(h.type >>> 0, 20);
  head.writeUInt32BE(h.socketId >>> 0, 24);
  head.writeUInt32BE(h.cookie >>> 0, 28);
  writePeerIp(head.subarray(32, 48), h.peerAddress ?? '');
  parts.push(head);
  const hsBlock = (type: number, e: SrtHsExt) => {
    const b = Buffer.alloc(12);
    b.writeUInt32BE(e.version >>> 0, 0);
    b.writeUInt32BE(e.flags >>> 0, 4);
    b.writeUInt32BE(((e.rcvLatencyMs & 0xffff) << 16 | (e.sndLatencyMs & 0xffff)) >>> 0, 8);
    parts.push(extHeader(type, b), b);
  };
  if (h.hsreq) hsBlock(EXT.HSREQ, h.hsreq);
  if (h.hsrsp) hsBlock(EXT.HSRSP, h.hsrsp);
  if (h.kmreq) parts.push(extHeader(EXT.KMREQ, h.kmreq), padded(h.kmreq));
  if (h.kmrsp) parts.push(extHeader(EXT.KMRSP, h.kmrsp), padded(h.kmrsp));
  if (h.streamId !== undefined && h.streamId !== '') {
    const s = swapString(h.streamId);
    parts.push(extHeader(EXT.SID, s), s);
  }
  return Buffer.concat(parts);
}

function extHeader(type: number, body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(Math.ceil(body.length / 4), 2);
  return b;
}

function padded(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

/** String extensions are NUL-padded to whole words and byte-reversed in each word (handshake.md). */
function swapString(s: string): Buffer {
  const raw = Buffer.from(s, 'utf8');
  const b = Buffer.alloc(Math.ceil(raw.length / 4) * 4);
  raw.copy(b);
  if (b.length > 0) b.swap32();
  return b;
}

function unswapString(body: Buffer): string {
  const b = Buffer.from(body.subarray(0, body.length - (body.length % 4)));
  if (b.length > 0) b.swap32();
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return b.subarray(0, end).toString('utf8');
}

/** libsrt writes an IPv4 address as its in_addr word through htonl: the four bytes reversed. */
function writePeerIp(out: Buffer, address: string): void {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    for (let i = 0; i < 4; i++) out[3 - i] = Number(v4[i + 1]) & 0xff;
  }
}
