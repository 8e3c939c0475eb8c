// Summarise a V8 .cpuprofile (node --cpu-prof): top functions by self time, self time grouped by
// origin (Strom dist/, node internals, node_modules, GC/program/idle), and inclusive time of Strom's
// own functions.
//   node bench/delivery/cpuprofile-summary.mjs <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpuprofile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples × time deltas (µs).
const selfUs = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(cf) {
  const url = cf.url || '';
  const short = url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
  return short ? `${short}:${cf.lineNumber + 1}` : '';
}
function key(n) {
  const cf = n.callFrame;
  return `${cf.functionName || '(anonymous)'} ${where(cf)}`.trim();
}
function origin(n) {
  const { url, functionName } = n.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  if (url.includes('/dist/')) return 'strom dist/';
  if (url.includes('/node_modules/')) return 'node_modules/';
  if (url.startsWith('node:')) return 'node internals (node:*)';
  return 'other';
}

const self = new Map();
const groups = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  self.set(key(n), (self.get(key(n)) ?? 0) + us);
  groups.set(origin(n), (groups.get(origin(n)) ?? 0) + us);
}
const idle = groups.get('(idle)') ?? 0;
const busy = totalUs - idle;
const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;

console.log(`profile ${file}`);
console.log(`total ${ms(totalUs)}, idle ${ms(idle)}, busy ${ms(busy)} (percentages below are of busy time)`);
console.log('\nself time by origin');
for (const [g, us] of [...groups].filter(([g]) => g !== '(idle)').sort((a, b) => b[1] - a[1])) {
  console.log(`  ${pct(us, busy)} ${ms(us)}  ${g}`);
}
console.log(`\ntop ${top} functions by self time`);
for (const [k, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`  ${pct(us, busy)} ${ms(us)}  ${k}`);
}

// Inclusive time of Strom functions (dist/): self time of every sample whose stack contains them,
// each function counted once per sample even when recursive.
const incl = new Map();
for (const [id, us] of selfUs) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    if (!n.callFrame.url.includes('/dist/')) continue;
    const k = key(n);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}
console.log('\nStrom (dist/) functions by inclusive time');
for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`  ${pct(us, busy)} ${ms(us)}  ${k}`);
}
