// Counts a process's Buffer allocations of at least 4 KiB by call site (issue 15): those are
// ArrayBuffers of their own, memory outside V8's heap, and V8 starts a full collection
// (Mark-Compact) each time such external memory grows ~64 MB past the last one, however
// small the heap. A preload, so it measures an unchanged broker bundle:
//
//   node bench/macro/replication.mjs --no-build --rounds 1 --rows rf3 \
//     --node-arg=--require=$PWD/bench/micro/alloc-sites.cjs
//
// Each process writes its table (MB and calls per site, largest first) to
// $ALLOC_SITES_DIR/alloc-<pid>.txt (default: the system's temporary directory) every 5 s
// and at exit. Divide by the MB the run produced for MB allocated per MB produced. It wraps
// Buffer.alloc, allocUnsafe, allocUnsafeSlow, concat and from(buffer), so it sees what the
// broker's code asks for, not what Node allocates inside (socket reads, fs); capturing a stack
// per call costs CPU: compare the counts, not the run's throughput.
'use strict';
const { writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/** Smaller allocations come from Node's shared 8 KiB pool (allocUnsafe) or V8's heap. */
const MIN_BYTES = 4096;
/** Stack frames kept per site. */
const FRAMES = 6;
const outDir = process.env.ALLOC_SITES_DIR || tmpdir();

const sites = new Map();
let inside = false;
let totalBytes = 0;
let totalCalls = 0;
Error.stackTraceLimit = FRAMES + 3;

function note(kind, bytes) {
  if (bytes < MIN_BYTES) return;
  totalBytes += bytes;
  totalCalls++;
  const frames = new Error().stack.split('\n').slice(3, 3 + FRAMES).map((l) => l.trim().replace(/^at /, '').replace(/\(file:\/\/[^)]*\//, '('));
  const key = `${kind} ${frames.join(' < ')}`;
  const site = sites.get(key) ?? { calls: 0, bytes: 0 };
  site.calls++;
  site.bytes += bytes;
  sites.set(key, site);
}

// Buffer.concat and Buffer.from allocate through the others: `inside` counts each once.
for (const name of ['allocUnsafeSlow', 'allocUnsafe', 'alloc']) {
  const original = Buffer[name];
  Buffer[name] = function (size, ...rest) {
    if (inside) return original.call(this, size, ...rest);
    inside = true;
    try {
      note(name, size);
      return original.call(this, size, ...rest);
    } finally {
      inside = false;
    }
  };
}
const originalConcat = Buffer.concat;
Buffer.concat = function (list, length) {
  if (inside) return originalConcat.call(this, list, length);
  inside = true;
  try {
    const out = originalConcat.call(this, list, length);
    note('concat', out.length);
    return out;
  } finally {
    inside = false;
  }
};
const originalFrom = Buffer.from;
Buffer.from = function (value, encodingOrOffset, length) {
  if (inside || !(value instanceof Uint8Array)) return originalFrom.call(this, value, encodingOrOffset, length);
  inside = true;
  try {
    const out = originalFrom.call(this, value, encodingOrOffset, length);
    note('from', out.length);
    return out;
  } finally {
    inside = false;
  }
};

const startedMs = Date.now();
function write() {
  const rows = [...sites.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 25);
  const lines = [`pid ${process.pid} after ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${(totalBytes / 1e6).toFixed(1)} MB in ${totalCalls} allocations of ${MIN_BYTES} bytes or more`];
  for (const [key, site] of rows) lines.push(`${(site.bytes / 1e6).toFixed(1)} MB ${site.calls} calls  ${key}`);
  writeFileSync(join(outDir, `alloc-${process.pid}.txt`), `${lines.join('\n')}\n`);
}
setInterval(write, 5000).unref();
process.on('exit', write);
