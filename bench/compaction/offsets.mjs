// Compaction benchmark (issue #18). Run from the repository root after `npx tsc -b`:
//
//   node --conditions=source --import tsx bench/compaction/offsets.mjs [--commits 1000000] [--groups 100]
//
// 1. `__consumer_offsets` before/after cleaning: a broker with the cleaner off takes
//    COMMITS offset commits for GROUPS groups (simple groups, OffsetCommit v2, 100
//    partitions per request, offsets.topic.segment.bytes=256 KiB so segments roll as they
//    would over days with the 100 MiB default); then bytes on disk and the coordinator's
//    start-up ("Loaded __consumer_offsets", elapsedMs, records replayed) after a restart
//    with the cleaner still off; then a restart with the cleaner on, wait until it has
//    nothing left to clean, and the same figures after one more restart.
// 2. Producer throughput on another topic, cleaner idle vs working, in one broker run:
//    a compacted topic `dirty` is filled with keyed 1 KiB records while its
//    min.compaction.lag.ms (1 h) keeps the cleaner off it; a 1-partition topic `load` is
//    produced to for WINDOW seconds (cleaner idle); then min.compaction.lag.ms is set to 0
//    and `load` produced to again for WINDOW seconds while the cleaner works on `dirty`
//    (the broker's cleaner log lines show the overlap), then once more after the clean.
//    The loss is the busy window against the mean of the two idle ones.
// The broker runs as its own process (from the built dist/); each phase's figures print as
// a markdown table for docs/benchmarks.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.ts';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const COMMITS = opt('commits', 1_000_000);
const GROUPS = opt('groups', 100);
const WINDOW_S = opt('window', 10);
const DIRTY_MB = opt('dirty-mb', 300);
const PARTITIONS_PER_REQUEST = 100;
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PY = '/usr/bin/python3';

function du(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : fs.statSync(p).size;
  }
  return n;
}
function offsetsBytes(dataDir) {
  return fs.readdirSync(dataDir).filter((d) => d.startsWith('__consumer_offsets-')).reduce((n, d) => n + du(path.join(dataDir, d)), 0);
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => res(port));
    });
  });
}

/** Starts the broker from dist/; resolves once it listens. `lines` collects its log lines. */
async function startBroker(dataDir, overrides) {
  const port = await freePort();
  const all = { listeners: `PLAINTEXT://127.0.0.1:${port}`, 'log.dirs': dataDir, 'tributary.log.level': 'info', ...overrides };
  const argv = [path.join(ROOT, 'packages/broker/dist/main.js')];
  for (const [k, v] of Object.entries(all)) argv.push('--override', `${k}=${v}`);
  const started = performance.now();
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const onData = (d) => {
    for (const l of d.toString().split('\n')) if (l) lines.push({ at: performance.now(), line: l });
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  await waitFor(() => lines.some((l) => l.line.includes('listening on')), 120_000, 'broker to listen');
  const exited = new Promise((res) => child.once('exit', res));
  live.add(child);
  exited.then(() => live.delete(child));
  return {
    port,
    pid: child.pid,
    bootstrap: `127.0.0.1:${port}`,
    lines,
    started,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * CPU seconds (user + system) of the broker's cleaner threads so far: the threads of `pid`
 * at nice 19 (log-cleaner-worker.ts lowers only its own thread). Load on the host stretches
 * a clean's wall time, not the CPU it needs, so this is the steadier figure.
 */
function cleanerCpuSeconds(pid) {
  const tick = 100; // USER_HZ, 100 on every Linux the bench runs on
  let s = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state(0) ... utime(11) stime(12) ... nice(16).
    if (Number(f[16]) === 19) s += (Number(f[11]) + Number(f[12])) / tick;
  }
  return s;
}

/** CPU seconds (user + system) of the broker's main thread (the event loop) so far. */
function mainThreadCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** A producer window on `load`: [acked, seconds, broker event-loop CPU µs per acked message]. */
function loadWindow(b) {
  const cpu0 = mainThreadCpuSeconds(b.pid);
  const [acked, seconds] = python(path.join(import.meta.dirname, 'produce_for.py'), [b.bootstrap, 'load', String(WINDOW_S)]).split(' ').map(Number);
  return [acked, seconds, ((mainThreadCpuSeconds(b.pid) - cpu0) * 1e6) / acked];
}

async function waitFor(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function loadedLine(broker) {
  const l = broker.lines.find((x) => x.line.includes('Loaded __consumer_offsets'));
  if (!l) return null;
  const num = (k) => Number((l.line.match(new RegExp(`${k}=(\\d+)`)) ?? [])[1]);
  return { elapsedMs: num('elapsedMs'), records: num('records'), groups: num('groups'), offsets: num('offsets') };
}

/** COMMITS offset commits over 8 connections (RawClient answers one request at a time). */
async function commitAll(broker) {
  const requests = COMMITS / PARTITIONS_PER_REQUEST;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    const client = await RawClient.open(broker.port);
    try {
      while (next < requests) {
        const r = next++;
        const round = Math.floor(r / GROUPS);
        const res = await client.request('OffsetCommit', 2, {
          groupId: `group-${r % GROUPS}`,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          retentionTimeMs: -1,
          topics: [{ name: 'events', partitions: Array.from({ length: PARTITIONS_PER_REQUEST }, (_, p) => ({ partitionIndex: p, committedOffset: round * 10 + p, committedMetadata: '' })) }],
        }, { timeoutMs: 60_000 });
        for (const t of res.topics) for (const p of t.partitions) if (p.errorCode !== 0) throw new Error(`commit error ${p.errorCode}`);
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return (performance.now() - t0) / 1000;
}

async function waitLoaded(broker) {
  await waitFor(() => loadedLine(broker) !== null, 300_000, 'coordinator load');
  return loadedLine(broker);
}

/**
 * Writes back dirty pages before a measured window: otherwise a window pays for the
 * writeback of the data earlier ones wrote (bench/README.md: up to half the speed).
 */
function syncDisks() {
  spawnSync('sync');
}

function python(script, argv, timeoutMs = 600_000) {
  const r = spawnSync(PY, [script, ...argv], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout.trim();
}

function createTopic(bootstrap, name, config, partitions = 1) {
  const code = `
import sys, json
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
cfg = json.loads(sys.argv[3])
if sys.argv[4] == "create":
    for t, f in a.create_topics([NewTopic(sys.argv[2], num_partitions=int(sys.argv[5]), replication_factor=1, config=cfg)]).items(): f.result(timeout=30)
else:
    for r, f in a.alter_configs([ConfigResource("topic", sys.argv[2], set_config=cfg)]).items(): f.result(timeout=30)
`;
  return (mode) => {
    const r = spawnSync(PY, ['-c', code, bootstrap, name, JSON.stringify(config), mode, String(partitions)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  };
}

/** Brokers this script started, killed by PID if it fails. */
const live = new Set();
const rows = [];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-bench-compaction-'));
const ioMax = opt('io-max-bytes', 0);
const base = { 'offsets.topic.segment.bytes': 262144, 'log.cleaner.backoff.ms': 1000, ...(ioMax > 0 ? { 'log.cleaner.io.max.bytes.per.second': ioMax } : {}) };
console.log(`data dir ${dataDir}; ${COMMITS} commits, ${GROUPS} groups`);
try {
  // ---- 1. __consumer_offsets before/after cleaning
  let b;
  if (!args.includes('--skip-offsets')) {
  b = await startBroker(dataDir, { ...base, 'log.cleaner.enable': false });
  await waitLoaded(b);
  createTopic(b.bootstrap, 'events', {}, PARTITIONS_PER_REQUEST)('create');
  const commitS = await commitAll(b);
  console.log(`committed ${COMMITS} offsets in ${commitS.toFixed(1)} s (${Math.round(COMMITS / commitS)} commits/s)`);
  await b.stop();
  const beforeBytes = offsetsBytes(dataDir);
  b = await startBroker(dataDir, { ...base, 'log.cleaner.enable': false });
  const beforeLoad = await waitLoaded(b);
  await b.stop();
  b = await startBroker(dataDir, { ...base, 'log.cleaner.enable': true });
  await waitLoaded(b);
  // Done when no clean has finished for three backoffs.
  let lastCount = -1;
  let stableSince = performance.now();
  await waitFor(() => {
    const n = b.lines.filter((l) => l.line.includes('Log cleaner cleaned')).length;
    if (n !== lastCount) {
      lastCount = n;
      stableSince = performance.now();
    }
    return performance.now() - stableSince > 5000;
  }, 900_000, 'cleaner to finish');
  const cleans = b.lines.filter((l) => l.line.includes('Log cleaner cleaned'));
  const cleanSpanS = cleans.length === 0 ? 0 : (cleans[cleans.length - 1].at - b.started) / 1000;
  await b.stop();
  const afterBytes = offsetsBytes(dataDir);
  b = await startBroker(dataDir, { ...base, 'log.cleaner.enable': false });
  const afterLoad = await waitLoaded(b);
  await b.stop();
  rows.push(['`__consumer_offsets` on disk', `${(beforeBytes / 1048576).toFixed(1)} MiB`, `${(afterBytes / 1048576).toFixed(1)} MiB`]);
  rows.push(['records replayed at start-up', String(beforeLoad.records), String(afterLoad.records)]);
  rows.push(['coordinator load (elapsedMs of "Loaded __consumer_offsets")', `${beforeLoad.elapsedMs} ms`, `${afterLoad.elapsedMs} ms`]);
  rows.push(['groups / offsets loaded', `${beforeLoad.groups} / ${beforeLoad.offsets}`, `${afterLoad.groups} / ${afterLoad.offsets}`]);
  rows.push(['cleans until idle (time from broker start)', '', `${cleans.length} (${cleanSpanS.toFixed(1)} s)`]);
  }

  // ---- 2. producer throughput on another topic, cleaner idle vs working
  b = await startBroker(dataDir, { ...base, 'log.cleaner.enable': true });
  await waitLoaded(b);
  const dirtyCfg = { 'cleanup.policy': 'compact', 'segment.bytes': String(16 * 1048576), 'min.compaction.lag.ms': '3600000', 'min.cleanable.dirty.ratio': '0.1' };
  createTopic(b.bootstrap, 'dirty', dirtyCfg)('create');
  createTopic(b.bootstrap, 'load', {})('create');
  // Fill `dirty` (1 KiB values over 1,000 keys) until it holds DIRTY_MB.
  const dirtyDir = path.join(dataDir, 'dirty-0');
  while (du(dirtyDir) < DIRTY_MB * 1048576) python(path.join(import.meta.dirname, 'produce_for.py'), [b.bootstrap, 'dirty', '5', '1000']);
  console.log(`dirty topic: ${(du(dirtyDir) / 1048576).toFixed(0)} MiB`);
  syncDisks();
  const idle = loadWindow(b);
  const beforeFlip = b.lines.length;
  const cleanerCpuBefore = cleanerCpuSeconds(b.pid);
  syncDisks();
  createTopic(b.bootstrap, 'dirty', { ...dirtyCfg, 'min.compaction.lag.ms': '0' })('alter');
  const busyStart = performance.now();
  const busy = loadWindow(b);
  const busyEnd = performance.now();
  await waitFor(() => b.lines.slice(beforeFlip).some((l) => l.line.includes('Log cleaner cleaned dirty-0')), 600_000, 'dirty topic cleaned');
  const dirtyCleans = b.lines.slice(beforeFlip).filter((l) => l.line.includes('Log cleaner cleaned dirty-0'));
  const cleanerCpuS = cleanerCpuSeconds(b.pid) - cleanerCpuBefore;
  for (const c of dirtyCleans) console.log(c.line);
  // A second idle window after the clean: the host's load drifts, so the busy window is
  // compared with the mean of the idle windows on either side of it.
  syncDisks();
  const idle2 = loadWindow(b);
  const first = dirtyCleans[0];
  const [, cleanedNum, cleanedUnit] = first.line.match(/segment group\(s\), ([\d.]+) (KiB|MiB|GiB)/) ?? [];
  const cleanedMiB = Number(cleanedNum) * { KiB: 1 / 1024, MiB: 1, GiB: 1024 }[cleanedUnit];
  const cleanMs = Number((first.line.match(/in (\d+) ms/) ?? [])[1]);
  const overlapS = Math.max(0, Math.min(busyEnd, first.at) - Math.max(busyStart, first.at - cleanMs)) / 1000;
  await b.stop();
  const idleRate = (idle[0] / idle[1] + idle2[0] / idle2[1]) / 2;
  const busyRate = busy[0] / busy[1];
  rows.push([`producer msgs/s on \`load\` (1 KiB, acks=1), ${WINDOW_S} s`, `${Math.round(idleRate)} (cleaner idle: mean of ${Math.round(idle[0] / idle[1])} before, ${Math.round(idle2[0] / idle2[1])} after)`, `${Math.round(busyRate)} (cleaner working ${overlapS.toFixed(1)} s of the window; ${((1 - busyRate / idleRate) * 100).toFixed(1)}% loss)`]);
  rows.push(['broker event-loop CPU per acked message (µs; load stretches it less than msgs/s)', `${idle[2].toFixed(1)} before, ${idle2[2].toFixed(1)} after`, idle[2] > 0 ? busy[2].toFixed(1) : '']);
  rows.push(['clean of `dirty`', '', `${(du(dirtyDir) / 1048576).toFixed(0)} MiB left; ${first.line.match(/in \d+ ms: .*?records kept/)?.[0] ?? ''}`]);
  rows.push(['cleaner thread CPU (nice-19 threads of the broker, /proc)', '', `${cleanerCpuS.toFixed(2)} s for ${cleanedMiB} MiB cleaned: ${((cleanerCpuS * 1000) / cleanedMiB).toFixed(2)} ms/MiB; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`]);
} finally {
  for (const child of live) child.kill('SIGKILL');
  console.log('\n| measure | before cleaning / cleaner idle | after cleaning / cleaner working |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  fs.rmSync(dataDir, { recursive: true, force: true });
}
