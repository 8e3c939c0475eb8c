/**
 * WebRTC preview of a live stream through WHEP (draft-ietf-wish-whep; Strom: docs/WEBRTC.md):
 * POST an SDP offer (recvonly video + audio) to `/live/<id>/whep`, apply the answer, play the tracks
 * in a muted <video>, DELETE the session resource when stopped. The latency readout is clock-free:
 * half the ICE round-trip time + the jitter-buffer delay + decode time per frame, from getStats
 * deltas over the last second — i.e. Strom → screen, without the publisher's encoder and uplink.
 */
import { h } from './dom.js';

/** A mounted WHEP player. */
export interface WhepPlayer {
  video: HTMLVideoElement;
  pc: RTCPeerConnection;
  destroy(): void;
}

/** Play `url` (a WHEP endpoint) into `host`; throws with the server's message when refused. */
export async function createWhepPlayer(host: HTMLElement, url: string): Promise<WhepPlayer> {
  const video = h('video', { muted: true, autoplay: true, playsinline: true, controls: true, 'aria-label': 'WebRTC live preview' });
  video.muted = true;
  const readout = h('p', { class: 'hint', id: 'whep-latency', 'aria-live': 'off' }, 'WebRTC: connecting…');
  host.replaceChildren(video, readout);
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
    video.play().catch(() => undefined);
  };
  let resource: string | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  const destroy = () => {
    if (timer) clearInterval(timer);
    timer = null;
    removeEventListener('pagehide', destroy);
    pc.close();
    if (resource) void fetch(resource, { method: 'DELETE', keepalive: true }).catch(() => undefined); // keepalive: survives page unload
    resource = null;
  };
  addEventListener('pagehide', destroy);
  try {
    // The offer goes out at once, without its candidates: Chromium took ~130 ms to finish ICE
    // gathering even on loopback, and Strom needs none — it answers with all of its own, and the
    // browser's connectivity checks tell it the browser's address (a peer-reflexive candidate).
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${text.slice(0, 200)}`);
    resource = new URL(res.headers.get('Location') ?? '', new URL(url, location.href)).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
  } catch (err) {
    destroy();
    throw err;
  }
  let prev = { jb: 0, emitted: 0, decode: 0, frames: 0 };
  timer = setInterval(() => {
    void pc.getStats().then((report) => {
      let rtt = 0;
      let cur = prev;
      report.forEach((s: Record<string, unknown> & { type: string }) => {
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') rtt = s.currentRoundTripTime;
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          cur = { jb: Number(s.jitterBufferDelay ?? 0), emitted: Number(s.jitterBufferEmittedCount ?? 0), decode: Number(s.totalDecodeTime ?? 0), frames: Number(s.framesDecoded ?? 0) };
        }
      });
      const dE = cur.emitted - prev.emitted;
      const dF = cur.frames - prev.frames;
      if (dE > 0 && dF > 0) {
        const ms = Math.round(((rtt / 2) + (cur.jb - prev.jb) / dE + (cur.decode - prev.decode) / dF) * 1000);
        readout.textContent = `WebRTC latency from Strom ≈ ${ms} ms (½ RTT ${Math.round(rtt * 500)} ms + jitter buffer + decode)`;
        readout.dataset.latencyMs = String(ms);
      }
      prev = cur;
    });
  }, 1000);
  return { video, pc, destroy };
}
