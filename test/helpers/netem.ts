/**
 * WebRTC through the impairment relay: a free UDP port range for Strom's ICE sockets on
 * 127.0.0.1, the port-range relay on 127.0.0.2 in front of it, and the settings that make Strom
 * announce 127.0.0.2 (NAT 1:1), so every packet a browser exchanges with Strom crosses the relay.
 */
import dgram from 'node:dgram';
import { startUdpPortRange, type UdpRelay } from '../../bench/netem/udp-relay.js';
import type { Impairment } from '../../bench/netem/model.js';

/** A relay in front of Strom's WebRTC ports and the Strom settings that route browsers through it. */
export interface RelayedWebRtc {
  relay: UdpRelay;
  settings: Record<string, string>;
}

async function rangeFree(host: string, min: number, max: number): Promise<boolean> {
  const socks: dgram.Socket[] = [];
  try {
    for (let p = min; p <= max; p++) {
      const s = dgram.createSocket('udp4');
      socks.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(p, host, resolve);
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    for (const s of socks) s.close();
  }
}

/**
 * Start the relay over `ports` ports (both directions impaired alike unless `down` is given);
 * `droppable` picks the datagrams the loss may hit (default: all).
 */
export async function relayedWebRtc(up: Impairment, down: Impairment = up, ports = 20, seed = 1, droppable?: (datagram: Buffer) => boolean): Promise<RelayedWebRtc> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const min = 41_000 + Math.floor(Math.random() * 4000);
    const max = min + ports - 1;
    if (!(await rangeFree('127.0.0.1', min, max))) continue;
    const relay = await startUdpPortRange({ listenHost: '127.0.0.2', targetHost: '127.0.0.1', portMin: min, portMax: max, up, down, seed, droppable }).catch(() => null);
    if (relay === null) continue;
    return {
      relay,
      settings: { 'webrtc.hostAddresses': '127.0.0.1', 'webrtc.announcedAddresses': '127.0.0.2', 'webrtc.udpPortMin': String(min), 'webrtc.udpPortMax': String(max) },
    };
  }
  throw new Error('no free UDP port range for the relay');
}
