// Prints the functions with the most self time in a V8 .cpuprofile (node --cpu-prof), and
// the share of samples per source file, so a benchmark's hot spots can be read in a terminal.
//
//   node bench/macro/lib/cpuprofile-top.mjs <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: cpuprofile-top.mjs <file.cpuprofile> [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const total = profile.samples.length;
const byFile = new Map();
for (const [id, n] of counts) {
  const f = byId.get(id).callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n);
  const url = f.url === '' ? `(${f.functionName})` : f.url.replace(/^.*\/(packages|node_modules)\//, '$1/');
  byFile.set(url, (byFile.get(url) ?? 0) + n);
}
const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
console.log(`${total} samples`);
for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${k}`);
console.log('\nby file:');
for (const [k, n] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(n)}  ${k}`);
