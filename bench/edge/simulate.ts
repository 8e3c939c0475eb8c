/**
 * What the origin sees when 10 million people watch: a small model of the tiers
 * (viewers → CDN PoPs → `strom edge` nodes → origin cluster), fed with figures measured by the
 * other bench/edge scripts where we have them and stated assumptions where we do not. It prints
 * every input with its source, so the result is only as good as the line that says "assumed".
 *
 *   npx tsx bench/edge/simulate.ts [--viewers 10000000] [--coalescing 1.00] [--edge-hit 0.95] …
 *
 * Live event: every viewer of one stream fetches, per LL-HLS part and rendition, one blocking
 * playlist and one part (RFC 8216bis §6.2.5.2). A tier that collapses identical requests forwards
 * `coalescing` requests per distinct object (measured: bench/edge/coalescing.ts), so each tier
 * sends its parent (tier nodes × renditions × objects per second × coalescing), independent of
 * how many viewers sit below it. Egress to the parent is one copy of each rendition per node.
 * VOD catalogue: every viewer fetches one segment per segment duration; a tier forwards its
 * misses (1 − hit ratio) to the one above; the origin serves what both tiers missed.
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  viewers: { type: 'string', default: '10000000' },
  'viewers-per-edge': { type: 'string', default: '20000' },
  'edges-per-pop': { type: 'string', default: '0' },
  pops: { type: 'string', default: '200' },
  renditions: { type: 'string', default: '4' },
  'part-s': { type: 'string', default: '0.333' },
  'segment-s': { type: 'string', default: '2' },
  'mean-mbps': { type: 'string', default: '3' },
  coalescing: { type: 'string', default: '1.00' },
  'cdn-hit': { type: 'string', default: '0.95' },
  'edge-hit': { type: 'string', default: '0.90' },
} });

const V = Number(values.viewers);
const R = Number(values.renditions);
const partS = Number(values['part-s']);
const segS = Number(values['segment-s']);
const mbps = Number(values['mean-mbps']);
const c = Number(values.coalescing);
const pops = Number(values.pops);
const edges = Math.ceil(V / Number(values['viewers-per-edge']));
const cdnHit = Number(values['cdn-hit']);
const edgeHit = Number(values['edge-hit']);

const fmt = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1));
const gbps = (mbitPerS: number) => `${(mbitPerS / 1000).toFixed(2)} Gbit/s`;

console.log('Inputs');
console.log(`  viewers                      ${fmt(V)}                 scenario`);
console.log(`  request coalescing per tier  ${c.toFixed(2)} req per object    measured: bench/edge/coalescing.ts (strom edge and nginx deploy/cdn/nginx.conf, 1.00 at 100–1000 viewers)`);
console.log(`  viewers per strom edge       ${values['viewers-per-edge']}                  assumed (sizing; see docs/BENCHMARKS.md "Edge" for measured hot throughput per core)`);
console.log(`  CDN PoPs in front            ${pops}                    assumed (0 = viewers reach the edges directly)`);
console.log(`  renditions / part / segment  ${R} / ${partS} s / ${segS} s         Strom defaults for LL-HLS (llhls.partTargetMs) and VOD (vod.segmentSeconds)`);
console.log(`  mean bitrate                 ${mbps} Mbit/s              assumed`);
console.log(`  VOD hit ratio CDN / edge     ${cdnHit} / ${edgeHit}           assumed (depends on catalogue popularity and cache size)`);

// Live: requests per second a tier of n nodes sends up, for one stream.
const perNodeUp = R * (2 / partS) * c; // blocking playlist + part, per part, per rendition
const viewerReqs = V * 2 / partS; // each viewer follows one rendition
const liveBelowOrigin = pops > 0 ? pops : edges; // the tier that talks to the edges collapses first
const edgeUpReqs = (pops > 0 ? pops : 0) * perNodeUp; // PoPs → edges
const originReqs = (pops > 0 ? Math.min(edges, pops) : edges) * perNodeUp;
console.log('\nLive event (one stream, LL-HLS)');
console.log(`  viewers → first tier          ${fmt(viewerReqs)} req/s, ${gbps(V * mbps)} egress`);
if (pops > 0) console.log(`  CDN PoPs (${pops}) → edges       ${fmt(edgeUpReqs)} req/s, ${gbps(pops * R * mbps)}`);
console.log(`  edges (${edges}) → origin         ${fmt(originReqs)} req/s, ${gbps((pops > 0 ? Math.min(edges, pops) : edges) * R * mbps)}  (${(originReqs / viewerReqs * 100).toExponential(2)} % of viewer requests)`);
console.log(`  → the origin's load is set by the ${liveBelowOrigin} nodes directly below it (each PoP pulling through one edge), not by the number of viewers`);

// VOD: segment requests per second.
const vodReqs = V / segS;
const afterCdn = pops > 0 ? vodReqs * (1 - cdnHit) : vodReqs;
const atOrigin = afterCdn * (1 - edgeHit);
console.log('\nVOD catalogue');
console.log(`  viewers → first tier          ${fmt(vodReqs)} req/s, ${gbps(V * mbps)}`);
if (pops > 0) console.log(`  CDN misses → edges            ${fmt(afterCdn)} req/s, ${gbps(V * mbps * (1 - cdnHit))}`);
console.log(`  edge misses → origin          ${fmt(atOrigin)} req/s, ${gbps(V * mbps * (pops > 0 ? 1 - cdnHit : 1) * (1 - edgeHit))}  (${(atOrigin / vodReqs * 100).toFixed(2)} % of viewer requests)`);
