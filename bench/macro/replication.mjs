#!/usr/bin/env node
// Replication throughput (issue 15), every row in ONE run so that the ratios compare rows
// measured under the same load on this shared machine:
//
//   (a) single  one broker (local metadata), RF=1, acks=1: the reference;
//   (b) rf3     3 brokers + one etcd, RF=3, acks=all, min.insync.replicas=2, every partition
//               led by broker 1 (the same load as (a), now copied to two followers);
//   (c) spread3 3 brokers + one etcd, RF=1, acks=1, the partitions split over the three
//               brokers (each leads a third), one load generator per broker;
//   (b') rf3spread 3 brokers + one etcd, RF=3, acks=all, min.insync.replicas=2, a third of
//               the partitions led by each broker (how a replicated cluster is laid out);
//   (d) percore nproc brokers + one etcd, as (c): the one-broker-per-core layout
//               (docs/operations.md); skipped when nproc is 3 (it is (c)).
//
// The load is rawload (bench/loadgen/rawload.c: raw Produce v7, one thread, epoll, 1 KiB
// records in batches of 16, requests up to 1 MiB, 5 in flight), because it uses under a
// tenth of a core where a librdkafka producer would take the broker's CPU away. Each row
// runs on fresh processes and data directories; rows rotate order every round, so each
// kind runs once early and once late. MB = 10^6 bytes of record values.
//
// Every figure covers only the measured window, on warm brokers and a settled disk: each row
// first runs the same load for --warmup seconds (8) while V8 optimizes the fresh brokers,
// then sync(1) (Dirty+Writeback recorded per row: a few MB), then the measured load (after a
// 1 s lead-in for rawload's connections). Measured from the load's start with a 1 s warm-up
// (until 2026-12-04), row (b') varied 2x round to round (95.6 then 44.2 and 38.9 MB/s, 7 then
// 15-17 CPU-ms/MB per broker, the same read/write syscalls per MB): perf showed TurboFan
// compiling at 30-40% of every broker's CPU for the first 4-6 s of load (baseline code and
// inline-cache misses another 10-20%), ~2% after; three brokers on two cores get half a core
// each, so their tier-up takes seconds and its length varies with scheduling. Not GC (16
// scavenges a broker in a whole row), nor write-back in a 7 s row. The warm-up is a separate
// load, not a longer one, because the page cache is the other limit: this 24 GB machine
// starts background write-back at ~2.3 GB dirty (dirty_background_ratio 10%) and throttles
// writers (balance_dirty_pages) above ~3.5 GB; row (a) at 400 MB/s reaches that in 6-8 s,
// row (b') (three copies of every byte) in ~11 s. A 14 s load halved row (a) (broker at 60%
// CPU, not waiting for a CPU), so --seconds above ~6 measures the disk, not the broker.
//
//   bash bench/setup.sh --no-install       # builds bench/.build/rawload
//   npm run build                          # the broker bundle (or drop --no-build)
//   node bench/macro/replication.mjs [--rounds 3] [--seconds 6] [--partitions 6] [--no-build]
//
// It prints a markdown table (every round, the medians and the ratios) and writes
// results.json under bench/.run/<stamp>-replication/. Every process it starts is stopped
// by PID at the end of its row and, whatever happens, at exit.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { describeMachine } from './lib/machine.mjs';
import { killAllNow, freePort, runTool, settleDisk, startServer, stopAll, stopProcess } from './lib/processes.mjs';
import { cpuSeconds, median, runQueueWaitS, waitUntilIdle, writtenBytes } from './lib/procfs.mjs';
import { buildTributary, TRIBUTARY_ENTRY } from './lib/targets.mjs';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(benchDir, '..');

/** Bound on one etcd's or broker's start: a cold bundle loads in well under a second. */
const START_TIMEOUT_MS = 60_000;
/** Bound on a topic's leaders appearing in every broker's metadata after CreateTopics. */
const TOPIC_READY_TIMEOUT_MS = 30_000;
/** Record value size: the issue's 1 KiB. */
const RECORD_BYTES = 1024;

const { values: cli } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '6' },
    rate: { type: 'string' },
    'in-flight': { type: 'string', default: '5' },
    rows: { type: 'string', default: 'single,rf3,rf3spread,spread3,percore' },
    'broker-override': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'boolean', default: false },
    perf: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    bundle: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    source: { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (cli.help) {
  process.stdout.write(`usage: node bench/macro/replication.mjs [--rounds N] [--seconds S] [--warmup S] [--partitions P]
  [--rows single,rf3,rf3spread,spread3,percore] [--rate MSGS_PER_S] [--in-flight K (rawload's requests in flight per connection, default 5 as the Java producer)] [--broker-override k=v ...] [--cpu-prof] [--perf] [--no-build] [--bundle FILE] [--node-arg=--flag ...] [--source] [--keep-data]
  --warmup S (default 8): a load before the measured one while V8 optimizes the fresh brokers (1 s left 30-40% of their CPU to TurboFan in the window), then sync; 0 skips it;
  --cpu-prof writes a V8 CPU profile of every broker into the run directory;
  --perf records every broker with \`perf record -F 1999 -g\` over the measured window (brokers run with --perf-basic-prof) into <run>/perf/;
  --source runs packages/broker/src through tsx instead of the bundle (no build).\n`);
  process.exit(0);
}
const ROUNDS = Number(cli.rounds);
const SECONDS = Number(cli.seconds);
const WARMUP = Number(cli.warmup);
const PARTITIONS = Number(cli.partitions);
const NPROC = availableParallelism();
const wanted = new Set(cli.rows.split(','));
const KINDS = ['single', 'rf3', 'rf3spread', 'spread3', 'percore'].filter((k) => wanted.has(k) && !(k === 'percore' && NPROC === 3));
const RAWLOAD = join(benchDir, '.build', 'rawload');
// --bundle: another build of the broker (a copy of main.bundle.mjs kept next to it, so that
// its worker files resolve), to compare a change with the build before it on the same load.
const MAIN = cli.bundle ? resolve(cli.bundle) : join(repoRoot, ...TRIBUTARY_ENTRY);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(benchDir, '.run', `${stamp}-replication`);
mkdirSync(join(runDir, 'logs'), { recursive: true });
const started = Date.now();
const log = (m) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);

/** Dirty plus write-back page-cache kB (/proc/meminfo) at a row's start: what settleDisk() left to the row. */
function unsettledKb() {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (name) => Number(meminfo.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
  return kb('Dirty') + kb('Writeback');
}
/**
 * What the CPU-cost comparison needs, per process, from /proc (null when it is gone): user
 * and system CPU seconds (/proc/PID/stat: under another helper's load wall-clock MB/s is
 * noise, CPU-seconds per MB much less so), read(2)- and write(2)-like syscalls
 * (/proc/PID/io syscr/syscw: about one per request and one per log append, so they count
 * round trips) and the main thread's context switches (/proc/PID/status).
 */
function costCounters(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const num = (text, re) => Number(text.match(re)?.[1] ?? NaN);
    return {
      userS: Number(fields[11]) / 100,
      systemS: Number(fields[12]) / 100,
      syscr: num(io, /^syscr: (\d+)/m),
      syscw: num(io, /^syscw: (\d+)/m),
      ctxSwitches: num(status, /^voluntary_ctxt_switches:\s+(\d+)/m) + num(status, /^nonvoluntary_ctxt_switches:\s+(\d+)/m),
    };
  } catch {
    return null;
  }
}

/** Per broker, CPU milliseconds (user+system, and system alone) and syscalls per MB of record values produced in the row. */
function costPerMB(before, after, mb) {
  if (before === null || after === null || !(mb > 0)) return null;
  const d = (k) => after[k] - before[k];
  return {
    cpuMsPerMB: Math.round((1000 * (d('userS') + d('systemS'))) / mb * 10) / 10,
    systemMsPerMB: Math.round((1000 * d('systemS')) / mb * 10) / 10,
    readsPerMB: Math.round(d('syscr') / mb),
    writesPerMB: Math.round(d('syscw') / mb),
    ctxSwitchesPerMB: Math.round(d('ctxSwitches') / mb),
  };
}

let serial = 0;
async function startEtcd(dir) {
  const client = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  // One member, fsync off: etcd holds only the cluster metadata here, written at topic
  // creation and on ISR changes, and is not what these rows measure.
  const args = ['--name', 'bench', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`,
    '--unsafe-no-fsync', '--max-txn-ops', '100000', '--heartbeat-interval', '50', '--election-timeout', '500'];
  const server = await startServer('/usr/bin/etcd', args, { logPath: join(runDir, 'logs', `etcd-${++serial}.log`), readyPattern: /ready to serve client requests|serving client traffic/i, readyTimeoutMs: START_TIMEOUT_MS });
  return { url: client, child: server.child };
}

async function startBroker(dir, nodeId, etcdUrl) {
  const id = ++serial;
  const port = await freePort();
  const overrides = [`listeners=PLAINTEXT://127.0.0.1:${port}`, `log.dirs=${join(dir, `broker-${nodeId}`)}`, ...cli['broker-override']];
  if (etcdUrl) overrides.push(`node.id=${nodeId}`, `etcd.endpoints=${etcdUrl}`, `broker.rack=rack-${nodeId}`);
  const node = [...cli['node-arg'], ...(cli['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(runDir, 'profiles', `${id}-broker-${nodeId}`)] : [])];
  // perf reads JIT symbols from /tmp/perf-<pid>.map; the V8 log the flag also writes goes to the run's logs, not the cwd.
  if (cli.perf) node.push('--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(runDir, 'logs', `v8-${id}-${nodeId}.log`)}`);
  const entry = cli.source ? ['--conditions=source', '--import', 'tsx', join(repoRoot, 'packages', 'broker', 'src', 'main.ts')] : [MAIN];
  const args = [...node, ...entry, ...overrides.flatMap((kv) => ['--override', kv])];
  const server = await startServer(process.execPath, args, { logPath: join(runDir, 'logs', `broker-${id}-${nodeId}.log`), readyPattern: /listening on/, readyTimeoutMs: START_TIMEOUT_MS });
  return { nodeId, port, bootstrap: `127.0.0.1:${port}`, pid: server.pid, child: server.child };
}

/** Creates `topic` with an explicit assignment (partition i on replicas[i]) and waits for every broker to know its leaders. */
async function createTopic(brokers, topic, assignment, configs) {
  const kafka = new Kafka({ clientId: 'replbench', brokers: brokers.map((b) => b.bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 10 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      timeout: TOPIC_READY_TIMEOUT_MS,
      topics: [{ topic, replicaAssignment: assignment.map((replicas, partition) => ({ partition, replicas })), configEntries: Object.entries(configs).map(([name, value]) => ({ name, value: String(value) })) }],
    });
    // rawload does not retry NOT_LEADER_OR_FOLLOWER: wait until each partition's leader is the
    // first replica (the preferred leader) and, with RF>1, the ISR holds every replica.
    const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
    for (;;) {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const parts = md.topics[0]?.partitions ?? [];
      const ready = parts.length === assignment.length && parts.every((p) => p.leader === assignment[p.partitionId][0] && p.isr.length === assignment[p.partitionId].length);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`topic ${topic} not ready: ${JSON.stringify(parts)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** How long settle() waits at most: a broker that never goes quiet is measured anyway. */
const SETTLE_TIMEOUT_MS = 20_000;

/**
 * Waits until every broker is idle, two samples in a row (waitUntilIdle). Brokers go on
 * working after the topic is ready: each creates its replicas of __consumer_offsets (50
 * partitions: in the RF=3 rows 50 logs, each several files, on every broker) and settles
 * its etcd watches. Measured from the moment the topic was ready, that start-up work landed
 * in the measured window (file creation was ~8% of the leader's CPU in a perf profile of
 * row (b)) and counted against the rows that start more brokers.
 */
async function settle(brokers) {
  if (!(await waitUntilIdle(brokers.map((b) => b.pid), SETTLE_TIMEOUT_MS))) log(`  brokers still busy after ${SETTLE_TIMEOUT_MS} ms; measuring anyway`);
}

/**
 * Seconds of rawload's own warm-up before the measured load (connections, metadata, its
 * pipeline filling): the brokers' JIT warm-up is a separate load before it (see the header).
 */
const LEAD_S = 1;

/** rawload for `seconds` after `leadS` against one broker leading partitions 0..p-1 of `topic`. */
function rawload(broker, topic, partitions, acks, loadCount, seconds = SECONDS, leadS = LEAD_S) {
  const args = ['-b', broker.bootstrap, '-t', topic, '-p', String(partitions), '-s', String(RECORD_BYTES), '--acks', acks, '--in-flight', cli['in-flight'],
    '--duration-s', String(seconds), '--warmup-s', String(leadS), '--timeout-s', String(seconds + leadS + 60)];
  // A fixed rate (msgs/s over all load generators) compares CPU per byte rather than throughput.
  if (cli.rate) args.push('--rate', String(Math.round(Number(cli.rate) / loadCount)));
  return runTool(RAWLOAD, args, { timeoutMs: (seconds + leadS + 90) * 1000, logPath: join(runDir, 'logs', 'rawload.log') });
}

/** Starts the processes of one row, runs its load, stops everything; resolves the row. */
async function runRow(kind, round) {
  const dir = join(runDir, `data-${round}-${kind}`);
  mkdirSync(dir, { recursive: true });
  const procs = [];
  try {
    settleDisk();
    let brokers;
    let loads; // [{ broker, topic, partitions, acks }]
    const topicConfigs = {};
    if (kind === 'single') {
      brokers = [await startBroker(dir, 1, null)];
      procs.push(...brokers);
      await createTopic(brokers, 'repl-a', Array.from({ length: PARTITIONS }, () => [1]), topicConfigs);
      loads = [{ broker: brokers[0], topic: 'repl-a', partitions: PARTITIONS, acks: '1' }];
    } else {
      const count = kind === 'percore' ? NPROC : 3;
      const etcd = await startEtcd(dir);
      procs.push(etcd);
      brokers = await Promise.all(Array.from({ length: count }, (_, i) => startBroker(dir, i + 1, etcd.url)));
      procs.push(...brokers);
      if (kind === 'rf3') {
        await createTopic(brokers, 'repl-b', Array.from({ length: PARTITIONS }, () => [1, 2, 3]), { 'min.insync.replicas': 2 });
        loads = [{ broker: brokers[0], topic: 'repl-b', partitions: PARTITIONS, acks: 'all' }];
      } else {
        // The same partition count as (a), split evenly: broker i leads topic repl-c-i (RF=1)
        // or, for rf3spread, repl-d-i with the next two brokers as its followers.
        const each = Math.max(1, Math.round(PARTITIONS / count));
        const replicated = kind === 'rf3spread';
        loads = [];
        for (const b of brokers) {
          const topic = `${replicated ? 'repl-d' : 'repl-c'}-${b.nodeId}`;
          const replicas = replicated ? [0, 1, 2].map((k) => ((b.nodeId - 1 + k) % count) + 1) : [b.nodeId];
          await createTopic(brokers, topic, Array.from({ length: each }, () => replicas), replicated ? { 'min.insync.replicas': 2 } : topicConfigs);
          loads.push({ broker: b, topic, partitions: each, acks: replicated ? 'all' : '1' });
        }
      }
    }
    await settle(brokers);
    if (WARMUP > 0) {
      // JIT warm-up on the same topics, then the disk settled again: the measured load starts
      // on optimized brokers and on a page cache with nothing to write back (see the header).
      const warm = await Promise.all(loads.map((l) => rawload(l.broker, l.topic, l.partitions, l.acks, loads.length, WARMUP, 0)));
      const warmFailed = warm.find((r) => !r.ok || (r.result.errors ?? 0) > 0);
      if (warmFailed) return { kind, round, ok: false, error: `warm-up: ${warmFailed.error ?? `${warmFailed.result.errors} errors`}`, command: warmFailed.command };
      settleDisk();
      await settle(brokers);
    }
    const dirtyKbAtStart = unsettledKb();
    // The counters are read when rawload's lead-in ends, so that CPU per MB covers the same
    // window as its MB/s.
    let cpu0, wait0, written0, cost0, t0;
    const sampleStart = () => {
      cpu0 = brokers.map((b) => cpuSeconds(b.pid));
      wait0 = brokers.map((b) => runQueueWaitS(b.pid));
      written0 = brokers.map((b) => writtenBytes(b.pid));
      cost0 = brokers.map((b) => costCounters(b.pid));
      t0 = Date.now();
    };
    const recorders = [];
    const startRecorders = () => {
      // The measured window, a little short of it so that no recorder outlives the load.
      const recordS = String(Math.max(1, SECONDS - 0.5));
      const perfDir = join(runDir, 'perf');
      mkdirSync(perfDir, { recursive: true });
      for (const b of brokers) {
        const out = join(perfDir, `${round}-${kind}-broker-${b.nodeId}.data`);
        const child = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(b.pid), '-o', out, '--', 'sleep', recordS], { stdio: 'ignore' });
        recorders.push(new Promise((done) => { child.on('exit', done); child.on('error', (err) => { log(`  perf record failed: ${err.message}`); done(); }); }));
      }
    };
    const warmupTimer = setTimeout(() => {
      sampleStart();
      if (cli.perf) startRecorders();
    }, LEAD_S * 1000);
    // CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles: the measured window in a profile.
    const windowStartUs = Number(process.hrtime.bigint() / 1000n) + LEAD_S * 1e6;
    const results = await Promise.all(loads.map((l) => rawload(l.broker, l.topic, l.partitions, l.acks, loads.length)));
    clearTimeout(warmupTimer);
    if (t0 === undefined) sampleStart(); // the load ended before its warm-up did (it failed)
    const wallS = Math.max(0.001, (Date.now() - t0) / 1000);
    const windowEndUs = Number(process.hrtime.bigint() / 1000n);
    const cost1 = brokers.map((b) => costCounters(b.pid));
    const cpuPct = brokers.map((b, i) => Math.round((100 * ((cpuSeconds(b.pid) ?? 0) - (cpu0[i] ?? 0))) / wallS));
    const writtenMB = brokers.map((b, i) => Math.round((writtenBytes(b.pid) - written0[i]) / 1e6));
    const waitPct = brokers.map((b, i) => Math.round((100 * ((runQueueWaitS(b.pid) ?? 0) - (wait0[i] ?? 0))) / wallS));
    // After the counters: the recorders end within the window, but stopping one takes a moment.
    await Promise.all(recorders);
    const failed = results.find((r) => !r.ok || (r.result.errors ?? 0) > 0);
    if (failed) return { kind, round, ok: false, error: failed.error ?? `${failed.result.errors} errors`, command: failed.command };
    const mbPerS = results.reduce((s, r) => s + r.result.mb_per_s, 0);
    // The MB acknowledged in the measured window (rawload's msgs), as the counters span it too.
    const producedMB = results.reduce((s, r) => s + (r.result.msgs ?? 0), 0) * RECORD_BYTES / 1e6;
    const cost = brokers.map((_, i) => costPerMB(cost0[i], cost1[i], producedMB));
    const msgsPerS = results.reduce((s, r) => s + r.result.msgs_per_s, 0);
    const ackP50Ms = Math.max(...results.map((r) => (r.result.ack_latency_us?.p50 ?? NaN) / 1000));
    const clientCpuPct = results.reduce((s, r) => s + (r.result.client_cpu_pct ?? 0), 0);
    return { kind, round, ok: true, mbPerS, msgsPerS, ackP50Ms, brokerCpuPct: cpuPct, brokerRunQueueWaitPct: waitPct, brokerWrittenMB: writtenMB, brokerCost: cost, clientCpuPct: Math.round(clientCpuPct), loadavg: loadavg()[0], dirtyKbAtStart, profileWindowUs: [windowStartUs, windowEndUs], commands: results.map((r) => r.command) };
  } catch (err) {
    return { kind, round, ok: false, error: err.message };
  } finally {
    // Brokers first (they leave etcd), side by side, then etcd.
    await Promise.all(procs.filter((p) => p.nodeId !== undefined).map((p) => stopProcess(p.child, { graceMs: 20_000 })));
    for (const p of procs) await stopProcess(p.child, { graceMs: 20_000 });
    if (!cli['keep-data']) rmSync(dir, { recursive: true, force: true });
  }
}

const LABEL = {
  single: '(a) 1 broker, RF=1, acks=1',
  rf3: '(b) 3 brokers, RF=3, acks=all, min.insync=2, leader on one',
  rf3spread: "(b') 3 brokers, RF=3, acks=all, min.insync=2, a leader on each",
  spread3: '(c) 3 brokers, RF=1, acks=1, a leader on each',
  percore: `(d) ${NPROC} brokers (one per core), RF=1, acks=1, a leader on each`,
};

async function main() {
  if (!existsSync(RAWLOAD)) throw new Error(`${RAWLOAD} missing: run bash bench/setup.sh --no-install`);
  if (!cli['no-build'] && !cli.source && !cli.bundle) {
    log('building Tributary (tsc -b, then the bundle)');
    const b = await buildTributary(repoRoot, join(runDir, 'logs', 'build.log'));
    if (!b.ok) throw new Error(b.error);
  }
  const machine = describeMachine();
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]);
    for (const kind of order) {
      log(`round ${round + 1}: ${LABEL[kind]}`);
      const row = await runRow(kind, round);
      rows.push(row);
      log(row.ok ? `  ${row.mbPerS.toFixed(1)} MB/s, broker CPU ${row.brokerCpuPct.join('/')}% (waiting for a CPU ${row.brokerRunQueueWaitPct.join('/')}%), written ${row.brokerWrittenMB.join('/')} MB, rawload CPU ${row.clientCpuPct}%, load ${row.loadavg.toFixed(2)}, dirty+write-back at start ${Math.round(row.dirtyKbAtStart / 1024)} MB\n  per MB produced, per broker: CPU ms (system) ${row.brokerCost.map((c) => (c ? `${c.cpuMsPerMB} (${c.systemMsPerMB})` : '?')).join(' / ')}; read/write syscalls ${row.brokerCost.map((c) => (c ? `${c.readsPerMB}/${c.writesPerMB}` : '?')).join(' ')}; context switches ${row.brokerCost.map((c) => c?.ctxSwitchesPerMB ?? '?').join(' ')}` : `  FAILED: ${row.error}`);
    }
  }
  const med = Object.fromEntries(KINDS.map((k) => [k, median(rows.filter((r) => r.kind === k && r.ok).map((r) => r.mbPerS))]));
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'failed');
  const lines = [];
  lines.push(`| row | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1} MB/s`).join(' | ')} | median MB/s | / (a) | broker CPU % / waiting for a CPU % (per broker, round 1) | ack p50 ms (round 1) |`);
  lines.push(`|---|${'---|'.repeat(ROUNDS)}---|---|---|---|`);
  for (const k of KINDS) {
    const per = Array.from({ length: ROUNDS }, (_, i) => rows.find((r) => r.kind === k && r.round === i));
    const ratio = Number.isFinite(med[k]) && Number.isFinite(med.single) ? `${(med[k] / med.single).toFixed(2)}×` : 'n/a';
    lines.push(`| ${LABEL[k]} | ${per.map((r) => (r?.ok ? fmt(r.mbPerS) : 'failed')).join(' | ')} | ${fmt(med[k])} | ${k === 'single' ? '1' : ratio} | ${per[0]?.ok ? per[0].brokerCpuPct.map((c, i) => `${c}/${per[0].brokerRunQueueWaitPct[i]}`).join(', ') : ''} | ${per[0]?.ok ? per[0].ackP50Ms.toFixed(1) : ''} |`);
  }
  const targets = [];
  if (KINDS.includes('rf3') && KINDS.includes('single')) targets.push(`(b)/(a) = ${(100 * med.rf3 / med.single).toFixed(0)}% (required ≥ 50%)`);
  if (KINDS.includes('rf3spread') && KINDS.includes('single')) targets.push(`(b')/(a) = ${(100 * med.rf3spread / med.single).toFixed(0)}%`);
  if (KINDS.includes('spread3') && KINDS.includes('single')) targets.push(`(c)/(a) = ${(med.spread3 / med.single).toFixed(2)}× (stretch goal ≥ 1.6×)`);
  const command = `node bench/macro/replication.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const out = `${lines.join('\n')}\n\n${targets.join('; ')}\n\n${command}; ${machine.nproc} CPUs (${machine.cpuModel}), Node ${machine.node}, load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`;
  process.stdout.write(`\n${out}`);
  for (const r of rows.filter((x) => !x.ok)) process.stdout.write(`- round ${r.round + 1} ${r.kind} failed: ${r.error}\n`);
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify({ command, machine, rounds: ROUNDS, seconds: SECONDS, partitions: PARTITIONS, rows, medians: med }, null, 2)}\n`);
  log(`results in ${runDir}/results.json`);
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stopAll().finally(() => process.exit(130)));
main()
  .catch((err) => {
    process.stderr.write(`bench/macro/replication.mjs: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
