#!/usr/bin/env node
// Splits a broker's `perf record -g` samples (replication.mjs --perf, brokers run with
// --perf-basic-prof so JIT frames have names) into areas of work, by what each sample's
// stack holds, and prints each area's share; with --ms-per-mb (the broker's CPU ms per MB
// from the same run) also ms per MB. The areas are the ones docs/benchmarks.md
// ("Replication: CPU cost per MB") reports for the leader of row (b) against row (a):
//
//   node bench/macro/perf-areas.mjs bench/.run/<run>/perf/0-rf3-broker-1.data [--ms-per-mb 5.6] [--top 15]
//
// A sample goes to the first matching rule: kernel page-cache writes, CRC-32C, V8's and
// libuv's own threads, then the innermost JS frame that names a known area. --top also
// lists the leaf symbols. Function names are the bundle's (packages/broker/dist), which keeps
// the source names; a renamed function falls into "other JS".
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: cli, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'ms-per-mb': { type: 'string' }, top: { type: 'string', default: '0' } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/macro/perf-areas.mjs PERF_DATA [--ms-per-mb X] [--top N]\n');
  process.exit(2);
}

/** JS areas, by the name of a frame; the innermost frame that matches one decides. */
const JS_AREAS = [
  ['high watermark, follower state, acks=all completion', /\b(maybeIncrementHighWatermark|followerFetched|updateFollowerFetchState|waitForHighWatermark|checkDelayedProduces|releaseFetchedAppends)\b/],
  ['follower/consumer Fetch handler', /\b(readReserved|readAll|readOne|quietRead|markQuiet|waitForData|requestTargets|encodeFetchResponse\w*|decodeFetchRequest\w*|assembleRecords)\b/],
  ['Produce handler (decode, validate, append)', /\b(appendRecordsToLeader|appendValidated|appendAll|checkEnvelope|walkRecords|validateBatchSync|decodeProduceRequest\w*)\b/],
  ['socket sends', /\b(flush|Socket\._writeGeneric|clearBuffer|writeOrBuffer|Socket\._write|writevGeneric)\b/],
  ['response encoding', /\b(encodeResponse|respond|encodeProduceResponse\w*)\b/],
  ['replica fetcher (follower side)', /\b(appendAsFollower|verifiedBatches|buildRequest|decodeFetchResponse\w*|encodeFetchRequest\w*)\b/],
  ['socket reads, framing, dispatch', /\b(onStreamRead|takeFramesLoop|takeFrames|process|dispatch|onData)\b/],
  ['microtasks and timers', /\b(processTicksAndRejections|processTimers|listOnTimeout|processImmediate)\b/],
];

const script = execFileSync('perf', ['script', '-i', positionals[0], '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
const areas = new Map();
const leaves = new Map();
let total = 0;
const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
for (const sample of script.split('\n\n')) {
  // Each line: address, symbol (JS frames: "JS:*name file:line:col"), (dso).
  const frames = sample.split('\n').map((l) => l.trim().replace(/^[0-9a-f]+\s+/, '')).filter((l) => l.length > 0);
  if (frames.length === 0) continue;
  total++;
  add(leaves, frames[0].slice(0, 90));
  add(areas, areaOf(frames));
}

function areaOf(frames) {
  const stack = frames.join('\n');
  if (/pwrite64/.test(stack)) return 'page-cache write (pwrite)';
  if (/crc32/.test(frames[0])) return 'CRC-32C';
  if (/OptimizingCompil|Heap::|Scaveng|MarkCompact|Sweeper|ConcurrentMark/.test(stack)) return 'V8 GC and optimizing compiler';
  if (/\bf(data)?sync\b/.test(stack)) return 'fsync (threadpool)';
  let anyJs = false;
  for (const frame of frames) {
    if (!frame.startsWith('JS:')) continue;
    anyJs = true;
    const name = frame.replace(/^JS:[*~^]?/, '').split(' ')[0];
    for (const [area, pattern] of JS_AREAS) if (pattern.test(name)) return area;
  }
  return anyJs ? 'other JS' : 'event loop, syscalls, no JS frame';
}

const msPerMB = cli['ms-per-mb'] === undefined ? undefined : Number(cli['ms-per-mb']);
process.stdout.write(`${total} samples in ${positionals[0]}\n`);
for (const [area, n] of [...areas].sort((a, b) => b[1] - a[1])) {
  const share = n / total;
  process.stdout.write(`${(100 * share).toFixed(1).padStart(5)}%${msPerMB === undefined ? '' : `  ${(msPerMB * share).toFixed(2)} ms/MB`}  ${area}\n`);
}
const top = Number(cli.top);
if (top > 0) {
  process.stdout.write('leaf symbols:\n');
  for (const [leaf, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${leaf}\n`);
}
