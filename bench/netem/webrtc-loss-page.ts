/**
 * The page side of bench/netem/webrtc-loss.ts (needs BARCODE_JS before it): `publish(base)` sends
 * a barcode canvas and a tone over WHIP, `play(url, barcode)` watches over WHEP and records
 * glass-to-glass samples and when each frame was presented, `snapshot()` returns the getStats counters the bench differences
 * (`pubSnapshot()` those of the publisher). Offers
 * go without candidates so Strom reaches the pages only through the relay (as behind a NAT).
 */

/** Cumulative counters of the WHEP page at one instant. */
export interface Snapshot {
  at: number;
  framesDecoded: number;
  freezeCount: number;
  totalFreezesDuration: number;
  nackCount: number;
  pliCount: number;
  concealedSamples: number;
  totalSamplesReceived: number;
  samples: number[];
  /** Wall-clock times (ms) of the last presented frames (≤ 4,000), for the longest gap between two. */
  presented: number[];
  states: string[];
}

/** Cumulative counters of the WHIP publisher page (outbound video) at one instant. */
export interface PublisherSnapshot {
  at: number;
  framesEncoded: number;
  keyFramesEncoded: number;
  retransmittedPacketsSent: number;
  packetsSent: number;
  nackCount: number;
  pliCount: number;
  /** Why the encoder runs below its configured quality: bandwidth, cpu, other or none. */
  qualityLimitationReason: string;
  targetBitrate: number;
  frameWidth: number;
  /** From Strom's last receiver report (remote-inbound-rtp): loss fraction 0–1, cumulative loss, RTT s. */
  reportedFractionLost: number;
  reportedPacketsLost: number;
  roundTripTime: number;
  /** The same report's loss fraction for the audio stream. */
  reportedAudioFractionLost: number;
  /** The RTX SSRC when retransmissions go as RTX (RFC 4588), else 0. */
  rtxSsrc: number;
}

/** Page script defining publish, play and snapshot on window. */
export const pageScript = `
window.busy = true; window.samples = []; window.states = []; window.presented = [];
async function post(pc, url, headers) {
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription.sdp.replace(/a=candidate:[^\\r]*\\r\\n/g, '');
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: sdp });
  if (res.status !== 201) throw new Error(url + ' ' + res.status + ' ' + await res.text());
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
}
window.publish = async (base) => {
  const c = document.createElement('canvas'); c.width = 320; c.height = 240; document.body.appendChild(c);
  const ctx = c.getContext('2d');
  setInterval(() => draw(ctx, Date.now()), 33);
  const stream = c.captureStream(30);
  const ac = new AudioContext(); const osc = ac.createOscillator(); const dst = ac.createMediaStreamDestination(); osc.connect(dst); osc.start();
  const pc = new RTCPeerConnection(); window.__pub = pc;
  const t = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
  t.setCodecPreferences(RTCRtpSender.getCapabilities('video').codecs.filter((x) => x.mimeType === 'video/H264' && /packetization-mode=1/.test(x.sdpFmtpLine || '')));
  pc.addTransceiver(dst.stream.getAudioTracks()[0], { direction: 'sendonly' });
  await post(pc, base + '/whip', { Authorization: 'Bearer secret' });
};
window.play = async (url, barcode) => {
  const pc = new RTCPeerConnection(); window.__play = pc;
  pc.addEventListener('connectionstatechange', () => window.states.push(pc.connectionState));
  pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' });
  const v = document.createElement('video'); v.muted = true; v.autoplay = true; v.playsInline = true; document.body.appendChild(v);
  const d = document.createElement('canvas'); d.width = 320; d.height = 240; const dctx = d.getContext('2d', { willReadFrequently: true });
  const ms = new MediaStream();
  pc.ontrack = (e) => { ms.addTrack(e.track); v.srcObject = ms; v.play().catch(() => {}); };
  const onFrame = () => { window.presented.push(Date.now()); if (window.presented.length > 4000) window.presented.shift(); if (barcode) { dctx.drawImage(v, 0, 0, 320, 240); const t0 = read(dctx); if (t0 !== null) window.samples.push(Date.now() - t0); } v.requestVideoFrameCallback(onFrame); };
  v.requestVideoFrameCallback(onFrame);
  await post(pc, url, {});
};
window.pubSnapshot = async () => {
  const o = { at: Date.now(), framesEncoded: 0, keyFramesEncoded: 0, retransmittedPacketsSent: 0, packetsSent: 0, nackCount: 0, pliCount: 0, qualityLimitationReason: '', targetBitrate: 0, frameWidth: 0, reportedFractionLost: 0, reportedPacketsLost: 0, roundTripTime: 0, rtxSsrc: 0, reportedAudioFractionLost: 0 };
  (await window.__pub.getStats()).forEach((s) => {
    if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') o.reportedAudioFractionLost = s.fractionLost || 0;
    if (s.type === 'remote-inbound-rtp' && s.kind === 'video') Object.assign(o, { reportedFractionLost: s.fractionLost || 0, reportedPacketsLost: s.packetsLost || 0, roundTripTime: s.roundTripTime || 0 });
    if (s.type === 'outbound-rtp' && s.kind === 'video') Object.assign(o, { rtxSsrc: s.rtxSsrc || 0, framesEncoded: s.framesEncoded || 0, keyFramesEncoded: s.keyFramesEncoded || 0, retransmittedPacketsSent: s.retransmittedPacketsSent || 0, packetsSent: s.packetsSent || 0, nackCount: s.nackCount || 0, pliCount: s.pliCount || 0, qualityLimitationReason: s.qualityLimitationReason || '', targetBitrate: s.targetBitrate || 0, frameWidth: s.frameWidth || 0 });
  });
  return o;
};
window.snapshot = async () => {
  const o = { at: Date.now(), framesDecoded: 0, freezeCount: 0, totalFreezesDuration: 0, nackCount: 0, pliCount: 0, concealedSamples: 0, totalSamplesReceived: 0, samples: window.samples.slice(), presented: window.presented.slice(), states: window.states.slice() };
  (await window.__play.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') Object.assign(o, { framesDecoded: s.framesDecoded || 0, freezeCount: s.freezeCount || 0, totalFreezesDuration: s.totalFreezesDuration || 0, nackCount: s.nackCount || 0, pliCount: s.pliCount || 0 });
    else { o.concealedSamples = s.concealedSamples || 0; o.totalSamplesReceived = s.totalSamplesReceived || 0; }
  });
  return o;
};
`;
