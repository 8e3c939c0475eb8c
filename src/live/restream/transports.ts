/**
 * The restreaming transports this build has, one registration per protocol: a new push protocol
 * is a file implementing `RestreamTransport` plus one line here. A scheme without a transport is
 * refused by the API with LIVE_OUTPUT_SCHEME_UNSUPPORTED.
 */
import { rtmpTransport } from './rtmp-transport.js';
import { srtTransport } from './srt-transport.js';
import { TransportRegistry } from './transport.js';

/** A registry with every available transport. */
export function defaultTransports(): TransportRegistry {
  return new TransportRegistry()
    .register(rtmpTransport)
    .register(srtTransport);
}
