// Summarizes a V8 CPU profile (.cpuprofile, from `npm run bench -- --profile` or `node --cpu-prof`): the functions
// with the most self time, and the most inclusive time (each function counted once per stack, so recursion does
// not inflate it).  Usage: node bench/profile.mjs FILE.cpuprofile [--top 30] [--match substring]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const top = Number(args[args.indexOf('--top') + 1]) || 30;
const match = args.includes('--match') ? args[args.indexOf('--match') + 1] : undefined;
if (!file) {
  console.error('usage: node bench/profile.mjs FILE.cpuprofile [--top N] [--match TEXT]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Time per sample: the delta before the next one.
const self = new Map();
const dt = prof.timeDeltas;
let total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const d = (dt[i + 1] ?? 0) / 1000;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + d);
  total += d;
}
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const selfBy = new Map();
const inclBy = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclBy.set(l, (inclBy.get(l) ?? 0) + t);
  }
}
const idle = ['(idle)', '(program)', '(garbage collector)'].map((k) => [k, selfBy.get(k) ?? 0]);
const busy = total - (selfBy.get('(idle)') ?? 0);
const show = (title, m) => {
  console.log(`\n${title}`);
  const rows = [...m].filter(([k]) => !match || k.includes(match)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, t] of rows) console.log(`${t.toFixed(0).padStart(8)} ms ${((t / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
};
console.log(`${file}: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle`);
for (const [k, t] of idle) console.log(`  ${k}: ${t.toFixed(0)} ms`);
show('Self time (% of non-idle)', selfBy);
show('Inclusive time (% of non-idle)', inclBy);
