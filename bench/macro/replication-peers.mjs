#!/usr/bin/env node
// A replicated peer measured the way bench/macro/replication.mjs measures Tributary (issue
// 15): NATS JetStream (Debian nats-server 2.9), every row in ONE run so that the ratio
// compares rows under the same load on this shared machine:
//
//   (a) single  one nats-server with JetStream (not clustered), a stream with 1 replica;
//   (b) r3      3 nats-servers in a cluster (routes on loopback, distinct store dirs), one
//               stream with 3 replicas: a Raft group; a publish is acknowledged once a
//               quorum (2 of 3) has stored it, as acks=all with min.insync.replicas=2;
//               the publisher connects to the stream's leader, as a Kafka producer sends to
//               the partition leader;
//   (c) spread3 the same cluster, three streams with 1 replica each, one placed on each
//               server (server_tags), one publisher per server.
//
// The load is natsbench (bench/peers/natsbench.c, libnats): 1 KiB messages, js_PublishAsync
// with at most --max-pending acks outstanding, as fast as that window allows. Each row runs
// on fresh servers and store directories: --warmup seconds of the same load first, then
// sync(1), then the measured load of --seconds after a 1 s lead-in; CPU per MB is counted per
// server over the measured window only. Rows rotate order every round. MB = 10^6 bytes of
// message payload. JetStream's file store does not fsync each message (its default sync is
// periodic), as Tributary and Kafka by default do not.
//
// Every row checks what it measured: the stream info after the load must show the stream's
// replica count, and for (b) a leader and two replicas that are current (lag 0), with every
// acknowledged message in the stream.
//
//   bash bench/setup.sh --no-install       # builds bench/.build/natsbench
//   node bench/macro/replication-peers.mjs [--rounds 3] [--seconds 6] [--warmup 8] [--max-pending 1000] [--rows single,r3,spread3]
//
// It prints a markdown table and writes results.json under bench/.run/<stamp>-replication-peers/.
// Store directories are made under /tmp and removed after each row (--keep-data keeps them).
// Every process it starts is stopped by PID at the end of its row and, whatever happens, at exit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.mjs';
import { killAllNow, freePort, runTool, settleDisk, startServer, stopAll, stopProcess } from './lib/processes.mjs';
import { cpuSplitSeconds, median, runQueueWaitS, waitUntilIdle, writtenBytes } from './lib/procfs.mjs';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bound on one server's start and on the cluster electing its metadata leader. */
const START_TIMEOUT_MS = 30_000;
/** Message size: the issue's 1 KiB. */
const MESSAGE_BYTES = 1024;
/** Seconds of natsbench's lead-in before the measured window (its connection, its window filling). */
const LEAD_S = 1;

const { values: cli } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '8' },
    'max-pending': { type: 'string', default: '1000' },
    rows: { type: 'string', default: 'single,r3,spread3' },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (cli.help) {
  process.stdout.write(`usage: node bench/macro/replication-peers.mjs [--rounds N] [--seconds S] [--warmup S] [--max-pending N] [--rows single,r3,spread3] [--keep-data]
  --max-pending N: unacknowledged publishes per publisher (JetStream's in-flight window);
  --warmup S (default 8): the same load before the measured one, then sync; 0 skips it.\n`);
  process.exit(0);
}
const ROUNDS = Number(cli.rounds);
const SECONDS = Number(cli.seconds);
const WARMUP = Number(cli.warmup);
const MAX_PENDING = Number(cli['max-pending']);
const wanted = new Set(cli.rows.split(','));
const KINDS = ['single', 'r3', 'spread3'].filter((k) => wanted.has(k));
const NATSBENCH = join(benchDir, '.build', 'natsbench');
const NATS_SERVER = 'nats-server';

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(benchDir, '.run', `${stamp}-replication-peers`);
mkdirSync(join(runDir, 'logs'), { recursive: true });
const started = Date.now();
const log = (m) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let serial = 0;
/**
 * Starts one nats-server from a configuration file: JetStream with its own store directory,
 * a server name and tag, and with `cluster` ({ name, port, routes }) a route listener and
 * routes to the other members.
 */
async function startNats(dir, name, cluster) {
  const port = await freePort();
  const storeDir = join(dir, `store-${name}`);
  mkdirSync(storeDir, { recursive: true });
  const conf = [
    `server_name: "${name}"`,
    `listen: "127.0.0.1:${port}"`,
    `server_tags: ["${name}"]`,
    `jetstream { store_dir: "${storeDir}" }`,
  ];
  if (cluster) {
    conf.push(`cluster { name: "${cluster.name}", listen: "127.0.0.1:${cluster.port}", routes: [${cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}] }`);
  }
  const confPath = join(dir, `${name}.conf`);
  writeFileSync(confPath, `${conf.join('\n')}\n`);
  const logPath = join(runDir, 'logs', `nats-${++serial}-${name}.log`);
  const server = await startServer(NATS_SERVER, ['-c', confPath], { logPath, readyPattern: /Server is ready/, readyTimeoutMs: START_TIMEOUT_MS });
  return { name, port, url: `nats://127.0.0.1:${port}`, pid: server.pid, child: server.child, logPath };
}

/** Three clustered servers s1..s3; resolves once one of them reports the JetStream metadata leader. */
async function startCluster(dir) {
  const clusterPorts = await Promise.all([0, 1, 2].map(() => freePort()));
  const servers = await Promise.all(
    ['s1', 's2', 's3'].map((name, i) => startNats(dir, name, { name: 'bench', port: clusterPorts[i], routes: clusterPorts.filter((_, j) => j !== i) })),
  );
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const elected = servers.some((s) => /metadata leader/.test(readFileSync(s.logPath, 'utf8')));
    if (elected) break;
    if (Date.now() > deadline) throw new Error(`no JetStream metadata leader within ${START_TIMEOUT_MS} ms; see ${runDir}/logs`);
    await sleep(100);
  }
  return servers;
}

/**
 * Creates a stream through natsbench create (retried: the cluster may answer "JetStream
 * system temporarily unavailable" just after its election) and waits until it has a leader
 * and, replicated, every replica current. Resolves to the stream info.
 */
async function createStream(server, stream, replicas, placementTag) {
  const args = ['create', '--url', server.url, '--stream', stream, '--subject', `${stream}.data`, '--replicas', String(replicas)];
  if (placementTag) args.push('--placement-tag', placementTag);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last;
  for (;;) {
    last = await runTool(NATSBENCH, args, { timeoutMs: 15_000, logPath: join(runDir, 'logs', 'natsbench-create.log') });
    const info = last.result;
    const ready = last.ok && info.replicas === replicas && (replicas === 1 || (info.leader && info.peers.length === replicas - 1 && info.peers.every((p) => p.current)));
    if (ready) return info;
    if (Date.now() > deadline) throw new Error(`stream ${stream} not ready: ${last.error ?? JSON.stringify(info)}`);
    await sleep(250);
  }
}

/**
 * The stream's state once its replicas have caught up: natsbench create on an existing
 * stream only prints its info. Polled for up to 10 s, since the replica outside the quorum
 * may still be a few messages behind when the last acknowledgement arrives.
 */
async function streamInfoCaughtUp(server, stream, replicas, placementTag) {
  const args = ['create', '--url', server.url, '--stream', stream, '--subject', `${stream}.data`, '--replicas', String(replicas)];
  if (placementTag) args.push('--placement-tag', placementTag);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await runTool(NATSBENCH, args, { timeoutMs: 15_000, logPath: join(runDir, 'logs', 'natsbench-create.log') });
    const caughtUp = r.ok && r.result.peers.every((p) => p.current && p.lag === 0 && !p.offline);
    if (caughtUp || Date.now() > deadline) return r.ok ? r.result : { error: r.error, peers: [] };
    await sleep(250);
  }
}

/** Waits (at most 20 s) until every server is idle, two samples in a row (waitUntilIdle). */
async function settle(servers) {
  if (!(await waitUntilIdle(servers.map((s) => s.pid), 20_000))) log('  servers still busy after 20 s; measuring anyway');
}

/** natsbench publishing to `stream` through `server` for leadS + seconds, measuring the last `seconds`. */
function publish(server, stream, replicas, placementTag, seconds, leadS) {
  const args = ['publish', '--url', server.url, '--stream', stream, '--subject', `${stream}.data`, '-s', String(MESSAGE_BYTES),
    '--replicas', String(replicas), '--max-pending', String(MAX_PENDING), '--duration-s', String(seconds), '--warmup-s', String(leadS),
    '--timeout-s', String(seconds + leadS + 60)];
  if (placementTag) args.push('--placement-tag', placementTag);
  return runTool(NATSBENCH, args, { timeoutMs: (seconds + leadS + 90) * 1000, logPath: join(runDir, 'logs', 'natsbench.log') });
}

/** Starts the servers of one row, runs its load, stops everything; resolves the row. */
async function runRow(kind, round) {
  // Store directories and configuration under /tmp, one directory per row, removed after it.
  const dir = mkdtempSync(join(tmpdir(), `replpeers-${round}-${kind}-`));
  let servers = [];
  try {
    settleDisk();
    let loads; // [{ server, stream, replicas, tag }]
    if (kind === 'single') {
      servers = [await startNats(dir, 's1', null)];
      loads = [{ server: servers[0], stream: 'repla', replicas: 1, tag: null }];
    } else {
      servers = await startCluster(dir);
      if (kind === 'r3') {
        const info = await createStream(servers[0], 'replb', 3, null);
        const leader = servers.find((s) => s.name === info.leader);
        if (!leader) throw new Error(`stream replb has no known leader: ${JSON.stringify(info)}`);
        loads = [{ server: leader, stream: 'replb', replicas: 3, tag: null }];
      } else {
        loads = [];
        for (const s of servers) {
          const info = await createStream(s, `replc${s.name}`, 1, s.name);
          if (info.leader && info.leader !== s.name) throw new Error(`stream replc${s.name} placed on ${info.leader}, not ${s.name}`);
          loads.push({ server: s, stream: `replc${s.name}`, replicas: 1, tag: s.name });
        }
      }
    }
    for (const l of loads) l.leader = l.server.name;
    await settle(servers);
    if (WARMUP > 0) {
      const warm = await Promise.all(loads.map((l) => publish(l.server, l.stream, l.replicas, l.tag, WARMUP, 0)));
      const warmFailed = warm.find((r) => !r.ok || r.result.errors > 0);
      if (warmFailed) return { kind, round, ok: false, error: `warm-up: ${warmFailed.error ?? warmFailed.result.first_error}`, command: warmFailed.command };
      settleDisk();
      await settle(servers);
    }
    let cpu0, wait0, written0, t0;
    const sampleStart = () => {
      cpu0 = servers.map((s) => cpuSplitSeconds(s.pid));
      written0 = servers.map((s) => writtenBytes(s.pid));
      wait0 = servers.map((s) => runQueueWaitS(s.pid, { allThreads: true }));
      t0 = Date.now();
    };
    const timer = setTimeout(sampleStart, LEAD_S * 1000);
    const results = await Promise.all(loads.map((l) => publish(l.server, l.stream, l.replicas, l.tag, SECONDS, LEAD_S)));
    clearTimeout(timer);
    if (t0 === undefined) sampleStart();
    const wallS = Math.max(0.001, (Date.now() - t0) / 1000);
    const cpu1 = servers.map((s) => cpuSplitSeconds(s.pid));
    const wait1 = servers.map((s) => runQueueWaitS(s.pid, { allThreads: true }));
    const writtenMB = servers.map((s, i) => Math.round((writtenBytes(s.pid) - written0[i]) / 1e6));
    const failed = results.find((r) => !r.ok || r.result.errors > 0 || !r.result.complete);
    if (failed) return { kind, round, ok: false, error: failed.error ?? `${failed.result.errors} errors (${failed.result.first_error}), complete ${failed.result.complete}`, command: failed.command };
    // What was measured: the stream's replica count, its leader, the other replicas current
    // (asked again once the load is over) and holding every acknowledged message.
    const after = [];
    for (const [i, r] of results.entries()) {
      const l = loads[i];
      const res = { ...r.result, ...(await streamInfoCaughtUp(l.server, l.stream, l.replicas, l.tag)) };
      after.push(res);
      if (res.replicas !== l.replicas) return { kind, round, ok: false, error: `stream ${l.stream} has ${res.replicas} replicas, not ${l.replicas}` };
      if (l.replicas > 1 && !(res.peers.length === l.replicas - 1 && res.peers.every((p) => p.current && p.lag === 0 && !p.offline)))
        return { kind, round, ok: false, error: `stream ${l.stream} replicas not current after the load: ${JSON.stringify(res.peers)}` };
      if (res.leader && res.leader !== l.leader) return { kind, round, ok: false, error: `stream ${l.stream} led by ${res.leader}, published through ${l.leader}` };
      if (res.stream_msgs < res.acked) return { kind, round, ok: false, error: `stream ${l.stream} holds ${res.stream_msgs} messages, ${res.acked} acknowledged` };
    }
    const mbPerS = results.reduce((s, r) => s + r.result.mb_per_s, 0);
    const measuredMB = results.reduce((s, r) => s + (r.result.acked - r.result.acked_warm), 0) * MESSAGE_BYTES / 1e6;
    const serverCost = servers.map((s, i) => {
      if (!cpu0[i] || !cpu1[i] || !(measuredMB > 0)) return null;
      const user = cpu1[i].userS - cpu0[i].userS;
      const system = cpu1[i].systemS - cpu0[i].systemS;
      return { name: s.name, cpuMsPerMB: Math.round((10_000 * (user + system)) / measuredMB) / 10, systemMsPerMB: Math.round((10_000 * system) / measuredMB) / 10 };
    });
    const cpuPct = servers.map((s, i) => (cpu0[i] && cpu1[i] ? Math.round((100 * (cpu1[i].userS + cpu1[i].systemS - cpu0[i].userS - cpu0[i].systemS)) / wallS) : null));
    const waitPct = servers.map((s, i) => (wait0[i] !== null && wait1[i] !== null ? Math.round((100 * (wait1[i] - wait0[i])) / wallS) : null));
    const ackP50Ms = Math.max(...results.map((r) => (r.result.ack_latency_us?.p50 ?? NaN) / 1000));
    const clientCpuPct = results.reduce((s, r) => s + (r.result.client_cpu_pct ?? 0), 0);
    const placement = after.map((r, i) => ({ stream: loads[i].stream, replicas: r.replicas, leader: r.leader, peers: r.peers, peersAtLastAck: results[i].result.peers, streamMsgs: r.stream_msgs, acked: r.acked }));
    return { kind, round, ok: true, mbPerS, measuredMB, serverWrittenMB: writtenMB, serverCpuPct: cpuPct, serverRunQueueWaitPct: waitPct, serverCost, ackP50Ms, clientCpuPct, placement, loadavg: loadavg()[0], commands: results.map((r) => r.command) };
  } catch (err) {
    return { kind, round, ok: false, error: err.message };
  } finally {
    await Promise.all(servers.map((s) => stopProcess(s.child, { graceMs: 20_000 })));
    if (!cli['keep-data']) rmSync(dir, { recursive: true, force: true });
  }
}

const LABEL = {
  single: '(a) 1 server, stream R1',
  r3: '(b) 3-server cluster, stream R3 (quorum ack), publisher on the leader',
  spread3: '(c) 3-server cluster, 3 streams R1, one on each server',
};

async function main() {
  if (!existsSync(NATSBENCH)) throw new Error(`${NATSBENCH} missing: run bash bench/setup.sh`);
  const machine = describeMachine();
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]);
    for (const kind of order) {
      log(`round ${round + 1}: ${LABEL[kind]}`);
      const row = await runRow(kind, round);
      rows.push(row);
      log(row.ok
        ? `  ${row.mbPerS.toFixed(1)} MB/s, server CPU ${row.serverCpuPct.join('/')}% (its threads waiting for a CPU ${row.serverRunQueueWaitPct.join('/')}% of a CPU), written ${row.serverWrittenMB.join('/')} MB (files and sockets), measured ${Math.round(row.measuredMB)} MB, natsbench CPU ${row.clientCpuPct}%, ack p50 ${row.ackP50Ms.toFixed(1)} ms, load ${row.loadavg.toFixed(2)}\n  CPU ms (system) per MB, per server: ${row.serverCost.map((c) => (c ? `${c.name} ${c.cpuMsPerMB} (${c.systemMsPerMB})` : '?')).join(' / ')}\n  ${row.placement.map((p) => `${p.stream}: R${p.replicas}, leader ${p.leader || '(none: not clustered)'}${p.peers.length ? `, replicas ${p.peers.map((q) => `${q.name} current=${q.current} lag=${q.lag}`).join(', ')}` : ''}, ${p.streamMsgs} msgs stored, ${p.acked} acked`).join('; ')}`
        : `  FAILED: ${row.error}`);
    }
  }
  const med = Object.fromEntries(KINDS.map((k) => [k, median(rows.filter((r) => r.kind === k && r.ok).map((r) => r.mbPerS))]));
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'failed');
  const lines = [];
  lines.push(`| row | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1} MB/s`).join(' | ')} | median MB/s | / (a) | CPU ms per MB per server (rounds) | server CPU % / its threads waiting for a CPU, % of a CPU (round 1) | ack p50 ms (round 1) |`);
  lines.push(`|---|${'---|'.repeat(ROUNDS)}---|---|---|---|---|`);
  for (const k of KINDS) {
    const per = Array.from({ length: ROUNDS }, (_, i) => rows.find((r) => r.kind === k && r.round === i));
    const ratio = Number.isFinite(med[k]) && Number.isFinite(med.single) ? `${(med[k] / med.single).toFixed(2)}×` : 'n/a';
    const cost = per.map((r) => (r?.ok ? r.serverCost.map((c) => (c ? `${c.name} ${c.cpuMsPerMB}` : '?')).join(', ') : '–')).join(' / ');
    const first = per[0]?.ok ? per[0].serverCpuPct.map((c, i) => `${c}/${per[0].serverRunQueueWaitPct[i]}`).join(', ') : '';
    lines.push(`| ${LABEL[k]} | ${per.map((r) => (r?.ok ? fmt(r.mbPerS) : 'failed')).join(' | ')} | ${fmt(med[k])} | ${k === 'single' ? '1' : ratio} | ${cost} | ${first} | ${per[0]?.ok ? per[0].ackP50Ms.toFixed(1) : ''} |`);
  }
  const ratios = [];
  if (KINDS.includes('r3') && KINDS.includes('single')) ratios.push(`(b)/(a) = ${(100 * med.r3 / med.single).toFixed(0)}%`);
  if (KINDS.includes('spread3') && KINDS.includes('single')) ratios.push(`(c)/(a) = ${(med.spread3 / med.single).toFixed(2)}×`);
  const command = `node bench/macro/replication-peers.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const version = execFileSync(NATS_SERVER, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
  const out = `${lines.join('\n')}\n\n${ratios.join('; ')}\n\n${command}; max ${MAX_PENDING} pending acks per publisher; ${version}; ${machine.nproc} CPUs (${machine.cpuModel}), load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`;
  process.stdout.write(`\n${out}`);
  for (const r of rows.filter((x) => !x.ok)) process.stdout.write(`- round ${r.round + 1} ${r.kind} failed: ${r.error}\n`);
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify({ command, machine, rounds: ROUNDS, seconds: SECONDS, warmup: WARMUP, maxPending: MAX_PENDING, rows, medians: med }, null, 2)}\n`);
  log(`results in ${runDir}/results.json`);
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stopAll().finally(() => process.exit(130)));
main()
  .catch((err) => {
    process.stderr.write(`bench/macro/replication-peers.mjs: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
