// The scenarios run against the Kafka-protocol target (Tributary, or the mock when testing
// the harness). Each broker phase gets a fresh data directory, removed afterwards:
//
//   main     produce max throughput (acks=1, acks=all, lz4, zstd), consume from the start
//            of a large topic, latency at fixed rates, 500 producer connections (at a low
//            rate for latency, and as fast as they can for throughput), a producer spread
//            over many partitions;
//   raw      on a fresh broker: the last two once more with rawload (a raw-protocol
//            producer in one thread), against its own 6-partition reference run just
//            before them, because librdkafka rather than the broker limits them;
//   durable  the broker restarted with the durable fsync-before-ack override, produce acks=all;
//   startup  1,000 partitions holding ~1 GB, then a clean restart and a kill -9 restart,
//            timed until TCP accept and until ApiVersions is answered, with RSS.
//
// A failing scenario is recorded with its reason and the run goes on; a broker that died
// is restarted (fresh) for the next scenario.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { waitForKafka } from './kafka-probe.mjs';
import { cpuSeconds, establishedConnections, machineCpu, machineShares, peakRssMiB, rssMiB } from './procfs.mjs';
import { runTool, settleDisk } from './processes.mjs';
import { mockTarget } from './targets.mjs';

const ALL_SCENARIOS = ['produce', 'consume', 'latency', 'connections', 'partitions', 'durable', 'startup'];
export { ALL_SCENARIOS };

/**
 * Reads `dataDir` every 50 ms until `done(names)` holds or `timeoutMs` has passed;
 * resolves the last listing, or null when the directory cannot be read.
 */
async function watchDir(dataDir, timeoutMs, done) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let names;
    try {
      names = await readdir(dataDir);
    } catch {
      return null;
    }
    if (done(names) || Date.now() > deadline) return names;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until no deleted partition directory (`<topic>-<n>.<id>-delete`, which the broker
 * removes in the background after DeleteTopics) is left in `dataDir`, for at most
 * `timeoutMs`. Resolves whether they went.
 */
async function filesGone(dataDir, timeoutMs) {
  const noneLeft = (names) => !names.some((name) => name.endsWith('-delete'));
  const names = await watchDir(dataDir, timeoutMs, noneLeft);
  return names === null || noneLeft(names);
}

/** Waits until `dataDir` holds a log directory for every partition of `topic`; resolves how many are missing. */
async function logsMissing(dataDir, topic, partitions, timeoutMs) {
  const prefix = `${topic}-`;
  const missing = (names) => partitions - names.filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))).length;
  const names = await watchDir(dataDir, timeoutMs, (ns) => missing(ns) <= 0);
  return names === null ? partitions : Math.max(0, missing(names));
}

const round = (x, digits = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/** A row's fields from a tribload result (runTool's), failed when incomplete or with delivery errors. */
export const fromTribload = (r) => {
  const x = r.result ?? {};
  let incomplete = null;
  if (x.complete === false) incomplete = x.mode === 'consume' ? `consumed ${x.received} of ${x.target}` : `acknowledged ${x.acked} of ${x.sent} sent`;
  else if (x.consume_complete === false) incomplete = `consumed ${x.received} of ${x.acked} acknowledged`;
  return {
    ok: r.ok && !incomplete && !(x.errors > 0),
    error:
      r.error ??
      (x.errors > 0 ? `${x.errors} delivery errors, first: ${x.first_error}` : null) ??
      (incomplete ? `incomplete: ${incomplete}` : null),
    command: r.command,
    msgsPerS: x.msgs_per_s ?? null,
    mbPerS: x.mb_per_s ?? null,
    ack: x.ack_latency_us ?? null,
    e2e: x.e2e_latency_us ?? null,
    count: x.acked ?? x.received ?? null,
    // The load generator's own CPU (100 = one core): next to the broker's, it tells
    // which side ran out of the machine's two cores.
    clientCpuPct: x.client_cpu_pct !== undefined ? round(x.client_cpu_pct, 0) : null,
    raw: x,
  };
};

export async function runTargetScenarios(ctx, target) {
  const { params, tribload } = ctx;
  const want = (name) => ctx.scenarios.has(name);
  const label = target.label;
  const toolOpts = (timeoutS) => ({ timeoutMs: (timeoutS + 60) * 1000, logPath: join(ctx.logDir, 'tools.log') });
  let phaseNo = 0;
  let broker = null;
  let phaseOverrides = [];
  let dataDir = null;

  const startFresh = async (phase, overrides) => {
    dataDir = join(ctx.runDir, 'data', `${target.name}-${phase}-${++phaseNo}`);
    await mkdir(dataDir, { recursive: true });
    phaseOverrides = [...ctx.brokerOverrides, ...overrides];
    broker = await target.start({ dataDir, overrides: phaseOverrides });
    ctx.log(`${label} started (${phase}) on ${broker.bootstrap}, pid ${broker.pid}, ready in ${round(broker.readyMs)} ms`);
    ctx.commands.add(broker.commandLine);
  };
  const stopPhase = async () => {
    if (broker) await broker.stop('clean');
    broker = null;
    if (dataDir && !ctx.keepData) await rm(dataDir, { recursive: true, force: true });
    dataDir = null;
  };
  // Runs `run` while sampling the broker's established connections every 0.5 s; the row
  // gets the largest count seen.
  const countingConnections = async (run) => {
    let maxConnections = 0;
    const sampler = setInterval(() => {
      maxConnections = Math.max(maxConnections, establishedConnections(broker.port));
    }, 500);
    try {
      const row = await run();
      return { ...row, connections: maxConnections };
    } finally {
      clearInterval(sampler);
    }
  };
  const failRow = (id, scenario, error) => ctx.record({ id, section: 'target', scenario, system: label, ok: false, error });

  // Runs `fn` with a live broker, measuring the broker's CPU use over it; any exception
  // becomes a failed row.
  const scenario = async (id, name, fn) => {
    if (!broker || !broker.alive()) {
      if (broker) ctx.note(`${label} exited before "${name}"; a fresh broker was started for it`);
      try {
        await stopPhase();
        await startFresh('restart', phaseOverrides.slice(ctx.brokerOverrides.length));
      } catch (err) {
        return failRow(id, name, `broker did not start: ${err.message}`);
      }
    }
    // Each row starts with the page cache written back (see settleDisk).
    settleDisk();
    const cpu0 = cpuSeconds(broker.pid);
    const machine0 = machineCpu();
    const t0 = Date.now();
    try {
      const row = await fn();
      const cpu1 = cpuSeconds(broker.pid);
      // Steal: CPU the hypervisor gave to other VMs during the row (a noisy host).
      if (row) row.machine = machineShares(machine0, machineCpu());
      const wall = (Date.now() - t0) / 1000;
      if (row) {
        row.brokerCpuPct = cpu0 !== null && cpu1 !== null ? round(((cpu1 - cpu0) / wall) * 100, 0) : null;
        row.rssMiB ??= round(rssMiB(broker.pid), 0);
        if (!broker.alive()) {
          row.ok = false;
          row.error = `${label} exited during the scenario; see logs`;
        }
        ctx.record({ id, section: 'target', scenario: name, system: label, ...row });
      }
    } catch (err) {
      failRow(id, name, err.message);
    } finally {
      await freeRowTopics();
    }
  };

  // Every topic a row creates is deleted when the row ends, and the next row waits until
  // its files are gone. So each row writes into page-cache memory the previous row gave
  // back, instead of into pages the VM has never used: this host backs those slowly once
  // a few GB have been written (docs/benchmarks.md, "Reading the macro figures"; the same rawload run went
  // from ~350 to ~150 MB/s after the first 2 GB; with the topic deleted after each run,
  // every run in a sequence of six stayed at 270-350 MB/s).
  let rowTopics = [];
  const createTopic = async (topic, partitions) => {
    const t0 = Date.now();
    const r = await target.createTopic(broker, topic, partitions, { timeoutS: params.toolTimeoutS });
    if (!r.ok) throw new Error(`creating topic ${topic} (${partitions} partitions): ${r.error}`);
    rowTopics.push(topic);
    // Tributary answers CreateTopics before the logs of a large topic exist (it creates
    // them in steps, and its partitions answer the retriable NOT_LEADER_OR_FOLLOWER until
    // then, as a Kafka broker does before it has become leader). rawload does not retry,
    // so the row waits for the log directories.
    if (target.name === 'tributary' && dataDir) {
      const left = await logsMissing(dataDir, topic, partitions, params.toolTimeoutS * 1000);
      if (left > 0) throw new Error(`topic ${topic}: ${left} of ${partitions} logs still missing after ${params.toolTimeoutS} s`);
      r.result.ready_seconds = Math.max(r.result.ready_seconds ?? 0, (Date.now() - t0) / 1000);
    }
    return r.result;
  };
  const freeRowTopics = async () => {
    const topics = rowTopics;
    rowTopics = [];
    if (!broker || !broker.alive() || topics.length === 0) return;
    for (const topic of topics) {
      const r = await target.deleteTopic(broker, topic, { timeoutS: params.toolTimeoutS });
      if (!r.ok) ctx.note(`deleting topic ${topic} after its row failed: ${r.error}`);
    }
    if (dataDir) await filesGone(dataDir, 30_000);
  };

  const produceAt = async (bootstrap, topic, extra, timeoutS = params.toolTimeoutS) =>
    runTool(tribload, ['produce', '-b', bootstrap, '-t', topic, '-s', String(params.size), '--timeout-s', String(timeoutS), ...extra], toolOpts(timeoutS));
  const produce = async (topic, extra, timeoutS = params.toolTimeoutS) => produceAt(broker.bootstrap, topic, extra, timeoutS);
  // rawload prints tribload's field names (msgs_per_s, acked, errors, complete, ...), so
  // fromTribload reads its results too.
  const rawProduceAt = async (bootstrap, topic, extra, timeoutS = params.toolTimeoutS) =>
    runTool(ctx.tools.rawload, ['-b', bootstrap, '-t', topic, '-s', String(params.size), '--timeout-s', String(timeoutS), ...extra], toolOpts(timeoutS));

  // The same load against librdkafka's in-process mock cluster (tribload mock-serve), which
  // keeps records in memory and does next to nothing per request: what the load generator
  // alone sends on this machine. Where Tributary comes close to it, the load generator,
  // not the broker, is the limit. Run while the broker is idle, never beside it.
  // `send(bootstrap)` runs the load generator (tribload or rawload) against the mock.
  const loadgenCeiling = async (id, scenario, topic, partitions, send, { system = 'librdkafka mock cluster (load generator alone)', note } = {}) => {
    if (target.name === 'mock') return;
    const mock = mockTarget({ tribload, logDir: ctx.logDir });
    let server = null;
    try {
      server = await mock.start();
      const created = await mock.createTopic(server, topic, partitions);
      if (!created.ok) throw new Error(created.error);
      const r = await send(server.bootstrap);
      const row = { kind: 'produce', ...(r.result?.tool === 'rawload' ? fromRawload(r) : fromTribload(r)) };
      if (note) row.note = row.note ? `${row.note}; ${note}` : note;
      ctx.record({ id, section: 'ceilings', scenario, system, ...row });
    } catch (err) {
      ctx.record({ id, section: 'ceilings', scenario, system, ok: false, error: err.message });
    } finally {
      if (server) await server.stop('clean');
    }
  };

  // rawload rows: a fixed duration rather than a count, so a row takes the same time
  // whether it runs at 50 MB/s (Tributary) or 2 GB/s (the mock); Java-producer-like
  // requests: full 16-record batches, one per partition, up to 1 MiB, 5 in flight.
  const rawShape = `${params.size} B, acks=1, batches of 16 records, requests up to 1 MiB, 5 in flight per connection`;
  const rawMockSystem = 'librdkafka mock cluster (rawload alone)';
  const rawArgs = (partitions, connections) => [
    '-p', String(partitions), '-c', String(connections), '--acks', '1',
    '--duration-s', String(params.rawSeconds), '--warmup-s', String(params.rawWarmupSeconds),
  ];
  const fromRawload = (r) => {
    const row = fromTribload(r);
    const x = r.result ?? {};
    // Requests answered per connection in the measured window: a wide spread means the
    // broker served some connections far more often than others.
    const per = x.requests_per_connection;
    const fairness = per && x.connections > 1 ? `; requests answered per connection min ${per.min} / median ${per.p50} / max ${per.max}` : '';
    if (x.partitions_per_request) row.note = `${x.partitions_per_request} partitions per request${fairness}`;
    return row;
  };
  const mainScenarios = ['produce', 'consume', 'latency', 'connections', 'partitions'].filter(want);
  if (mainScenarios.length) {
    try {
      await startFresh('main', []);
    } catch (err) {
      ctx.note(`${label} did not start: ${err.message}`);
      for (const s of mainScenarios) failRow(`trib.${s}`, s, `broker did not start: ${err.message}`);
    }
  }
  if (broker) {
    if (want('produce')) {
      const variants = [
        { id: 'trib.produce.acks1', name: 'acks=1', args: ['--acks', '1'] },
        { id: 'trib.produce.acksall', name: 'acks=all', args: ['--acks', 'all'] },
        { id: 'trib.produce.lz4', name: 'acks=1, lz4', args: ['--acks', '1', '--compression', 'lz4'] },
        { id: 'trib.produce.zstd', name: 'acks=1, zstd', args: ['--acks', '1', '--compression', 'zstd'] },
      ];
      for (const v of variants) {
        await scenario(v.id, `produce max throughput, 6 partitions, ${params.size} B, ${v.name}`, async () => {
          const topic = `produce-${v.id.split('.').pop()}`;
          await createTopic(topic, 6);
          return { kind: 'produce', ...fromTribload(await produce(topic, ['-n', String(params.produceCount), ...v.args])) };
        });
      }
    }

    if (want('consume')) {
      const count = Math.round(params.consumeBytes / params.size);
      await scenario('trib.consume', `consume from the start of a ${round(params.consumeBytes / 1e6, 0)} MB topic, 6 partitions`, async () => {
        await createTopic('consume', 6);
        const fill = await produce('consume', ['-n', String(count), '--acks', '1'], params.toolTimeoutS * 3);
        if (!fill.ok || fill.result?.acked !== count) throw new Error(`filling the topic: ${fill.error ?? `acked ${fill.result?.acked} of ${count}`}`);
        const r = await runTool(tribload, ['consume', '-b', broker.bootstrap, '-t', 'consume', '-n', String(count), '--timeout-s', String(params.toolTimeoutS)], toolOpts(params.toolTimeoutS));
        return { kind: 'consume', ...fromTribload(r), note: `filled at ${round(fill.result.msgs_per_s, 0)} msgs/s` };
      });
    }

    if (want('latency')) {
      // linger 0 at every rate (the targets), and 10k msgs/s once more with librdkafka's
      // default linger (5 ms): what a producer that batches pays in latency and saves in
      // broker CPU.
      const variants = [
        ...params.latencyRates.map((rate) => ({ rate, id: `trib.latency.${rate}`, topic: `latency-${rate}`, lingerName: 'linger 0', extra: [] })),
        { rate: 10_000, id: 'trib.latency.10000.linger5', topic: 'latency-10000-linger5', lingerName: "linger 5 ms (librdkafka's default)", extra: ['--linger-ms', '5'] },
      ];
      for (const v of variants) {
        await scenario(v.id, `latency at ${v.rate} msgs/s, acks=all, ${v.lingerName}, 6 partitions`, async () => {
          await createTopic(v.topic, 6);
          const args = ['e2e', '-b', broker.bootstrap, '-t', v.topic, '-s', String(params.size), '--rate', String(v.rate), '--duration-s', String(params.latencySeconds), '--warmup-s', String(params.warmupSeconds), '--acks', 'all', ...v.extra, '--timeout-s', String(params.toolTimeoutS)];
          return { kind: 'latency', ...fromTribload(await runTool(tribload, args, toolOpts(params.toolTimeoutS))) };
        });
      }
    }

    if (want('connections')) {
      const { connections, connectionsRate } = params;
      await scenario('trib.connections', `${connections} producer connections, ${connectionsRate / connections} msgs/s each, acks=1`, async () => {
        await createTopic('connections', 6);
        return countingConnections(async () => {
          const r = await produce('connections', ['--producers', String(connections), '--rate', String(connectionsRate), '--duration-s', String(params.latencySeconds), '--warmup-s', String(params.connectionsWarmupSeconds), '--acks', '1'], params.toolTimeoutS * 2);
          return { kind: 'latency', ...fromTribload(r), rssMiB: round(rssMiB(broker.pid), 0) };
        });
      });
    }

    if (want('connections')) {
      const { connections, connMaxCount, connMaxBurst, connMaxQueueKiB } = params;
      const connMaxArgs = [
        '-n', String(connMaxCount), '--producers', String(connections), '--burst', String(connMaxBurst),
        '--acks', '1', '-X', `queue.buffering.max.kbytes=${connMaxQueueKiB}`,
      ];
      const connMaxName = `${connections} producer connections, max throughput, 6 partitions, ${params.size} B, acks=1 (bursts of ${connMaxBurst} per connection)`;
      await scenario(
        'trib.connections.max',
        connMaxName,
        async () => {
          await createTopic('connections-max', 6);
          // Sampled every 0.5 s: connections, and the broker's busiest half-second of CPU.
          // The scenario's average CPU includes opening 500 clients (mostly idle for the
          // broker), so the peak is what tells whether the broker was the limit.
          let maxConnections = 0;
          let peakCpuPct = 0;
          let last = { cpu: cpuSeconds(broker.pid), at: Date.now() };
          const sampler = setInterval(() => {
            maxConnections = Math.max(maxConnections, establishedConnections(broker.port));
            const now = { cpu: cpuSeconds(broker.pid), at: Date.now() };
            if (now.cpu !== null && last.cpu !== null && now.at > last.at) peakCpuPct = Math.max(peakCpuPct, ((now.cpu - last.cpu) / ((now.at - last.at) / 1000)) * 100);
            last = now;
          }, 500);
          try {
            // One tribload process holds the 500 librdkafka instances (each with its own
            // connection and threads); the send loop hands each instance runs of
            // --burst messages, as independent producers filling their own batches would.
            // The per-instance queue is capped so 500 instances cannot buffer gigabytes.
            const r = await produce('connections-max', connMaxArgs, params.toolTimeoutS * 2);
            const row = { kind: 'produce', ...fromTribload(r), connections: maxConnections, rssMiB: round(rssMiB(broker.pid), 0) };
            row.note = `broker CPU peak ${round(peakCpuPct, 0)}% (0.5 s samples); sent in ${round(r.result?.send_seconds, 2)} s, all acknowledged after ${round(r.result?.seconds, 2)} s`;
            return row;
          } finally {
            clearInterval(sampler);
          }
        },
      );
      await loadgenCeiling('mock.connections.max', connMaxName, 'connections-max', 6, (b) => produceAt(b, 'connections-max', connMaxArgs, params.toolTimeoutS * 2));
    }

    if (want('partitions')) {
      const { widePartitions, wideCount } = params;
      await scenario('trib.partitions', `one producer spread over ${widePartitions} partitions (round-robin per message), acks=1`, async () => {
        const created = await createTopic('wide', widePartitions);
        const r = await produce('wide', ['-n', String(wideCount), '--spread', '--acks', '1']);
        return { kind: 'produce', ...fromTribload(r), note: `topic created, with every log, in ${round(created.ready_seconds, 2)} s`, rssMiB: round(rssMiB(broker.pid), 0) };
      });
      await loadgenCeiling('mock.partitions', `one producer spread over ${widePartitions} partitions (round-robin per message), acks=1`, 'wide', widePartitions, (b) => produceAt(b, 'wide', ['-n', String(wideCount), '--spread', '--acks', '1']));
    }

    await stopPhase();
  }

  // The rawload rows, in a phase of their own on a fresh broker and back to back, so that
  // each ratio's 6-partition reference and its row see the same broker state, before any
  // segment roll: in the main phase they ran after ~5 GB, where rolling the 1 GiB
  // segments halves the write rate while the disk writes them out (docs/benchmarks.md).
  const rawScenarios = ['connections', 'partitions'].filter(want);
  if (rawScenarios.length) {
    let started = true;
    try {
      await startFresh('raw', []);
    } catch (err) {
      started = false;
      for (const base of ['trib.raw.p6', ...rawScenarios.map((x) => `trib.raw.${x}`)]) for (const id of rawRoundIds(params, base)) failRow(id, id, `broker did not start: ${err.message}`);
    }
    if (started) {
      // The 6-partition reference and the two target loads, in rounds whose order
      // rotates (p6 conn wide, then wide p6 conn, then conn wide p6): each row runs once
      // in each position, and the targets compare medians. How fast a row writes depends
      // on where it falls in the sequence (this VM backs new page-cache pages slowly once
      // the host has taken freed memory back), which a single pass confounds with the
      // broker.
      const rounds = params.rawRounds;
      const of = (k) => (rounds > 1 ? `: run ${k} of ${rounds}` : '');
      const idOf = (base, k) => rawRoundIds(params, base)[k - 1];
      const { connections, widePartitions } = params;
      const names = {
        p6: `rawload: 1 connection, 6 partitions, ${rawShape}`,
        connections: `rawload: ${connections} connections, 6 partitions, ${rawShape}`,
        partitions: `rawload: 1 connection over ${widePartitions} partitions, ${rawShape}`,
      };
      const runs = {
        p6: (k) =>
          scenario(idOf('trib.raw.p6', k), names.p6 + of(k), async () => {
            await createTopic(`raw-p6-${k}`, 6);
            return { kind: 'produce', ...fromRawload(await rawProduceAt(broker.bootstrap, `raw-p6-${k}`, rawArgs(6, 1))) };
          }),
        connections: (k) =>
          scenario(idOf('trib.raw.connections', k), names.connections + of(k), async () => {
            await createTopic(`raw-connections-${k}`, 6);
            return countingConnections(async () => {
              const row = fromRawload(await rawProduceAt(broker.bootstrap, `raw-connections-${k}`, rawArgs(6, connections)));
              return { kind: 'produce', ...row, rssMiB: round(rssMiB(broker.pid), 0) };
            });
          }),
        partitions: (k) =>
          scenario(idOf('trib.raw.partitions', k), names.partitions + of(k), async () => {
            const created = await createTopic(`raw-wide-${k}`, widePartitions);
            const row = fromRawload(await rawProduceAt(broker.bootstrap, `raw-wide-${k}`, rawArgs(widePartitions, 1)));
            row.note = [`topic created, with every log, in ${round(created.ready_seconds, 2)} s`, row.note].filter(Boolean).join('; ');
            return { kind: 'produce', ...row, rssMiB: round(rssMiB(broker.pid), 0) };
          }),
      };
      const order = ['p6', ...rawScenarios];
      for (let k = 1; k <= rounds; k++) {
        const shift = (k - 1) % order.length;
        for (const which of [...order.slice(order.length - shift), ...order.slice(0, order.length - shift)]) await runs[which](k);
      }

      await loadgenCeiling('mock.raw.p6', names.p6, 'raw-p6', 6, (b) => rawProduceAt(b, 'raw-p6', rawArgs(6, 1)), { system: rawMockSystem });
      if (want('connections')) {
        await loadgenCeiling('mock.raw.connections', names.connections, 'raw-connections', 6, (b) => rawProduceAt(b, 'raw-connections', rawArgs(6, connections)), { system: rawMockSystem });
      }
      if (want('partitions')) {
        // The mock answers a request naming many partitions slowly (its own CPU is the
        // limit there), so this row bounds nothing: it is kept as a sanity figure.
        await loadgenCeiling('mock.raw.partitions', names.partitions, 'wide', widePartitions, (b) => rawProduceAt(b, 'wide', rawArgs(widePartitions, 1)), {
          system: rawMockSystem,
          note: 'the mock itself is CPU-bound on requests naming many partitions: not a ceiling',
        });
      }
    }
    await stopPhase();
  }

  if (want('durable')) {
    const name = `produce max throughput, 6 partitions, ${params.size} B, acks=all, durable (${ctx.durableOverride})`;
    try {
      await startFresh('durable', [ctx.durableOverride]);
      await scenario('trib.produce.durable', name, async () => {
        await createTopic('produce-durable', 6);
        return { kind: 'produce-durable', ...fromTribload(await produce('produce-durable', ['-n', String(params.durableCount), '--acks', 'all'])) };
      });
    } catch (err) {
      failRow('trib.produce.durable', name, `broker did not start: ${err.message}`);
    }
    await stopPhase();
  }

  if (want('startup')) {
    if (!target.canRestart) ctx.note(`start-up scenario skipped: the ${label} target cannot restart on its data`);
    else await startupScenario(ctx, target, { startFresh, stopPhase, createTopic, produce, get: () => ({ broker, dataDir }) });
  }
}

// Fills 1,000 partitions, then restarts twice on the same data directory: after a clean
// shutdown and after kill -9 (which makes the broker recover its logs).
async function startupScenario(ctx, target, h) {
  const { params } = ctx;
  const base = `${params.startupPartitions} partitions, ${round(params.startupBytes / 1e9, 2)} GB`;
  const fail = (id, scenario, error) => ctx.record({ id, section: 'target', scenario, system: target.label, ok: false, error });
  try {
    await h.startFresh('startup', []);
    const { broker, dataDir } = h.get();
    await h.createTopic('startup', params.startupPartitions);
    const count = Math.round(params.startupBytes / params.size);
    const fill = await h.produce('startup', ['-n', String(count), '--spread', '--acks', '1'], params.toolTimeoutS * 3);
    if (!fill.ok || fill.result?.acked !== count) throw new Error(`filling: ${fill.error ?? `acked ${fill.result?.acked} of ${count}`}`);
    const loadedRss = rssMiB(broker.pid);
    const port = broker.port;
    const overrides = [...ctx.brokerOverrides];
    const t0 = Date.now();
    await broker.stop('clean');
    const shutdownMs = Date.now() - t0;
    for (const kind of ['clean', 'kill']) {
      const id = `trib.startup.${kind}`;
      const scenario = `start-up after ${kind === 'clean' ? 'a clean shutdown' : 'kill -9 (log recovery)'}, ${base}`;
      const startedNs = process.hrtime.bigint();
      const [started, probe] = await Promise.allSettled([
        target.start({ dataDir, overrides, port }),
        waitForKafka('127.0.0.1', port, startedNs, 120_000),
      ]);
      if (started.status === 'rejected') {
        fail(id, scenario, `broker did not restart: ${started.reason.message}`);
        break;
      }
      const b = started.value;
      const p = probe.status === 'fulfilled' ? probe.value : { tcpMs: null, apiVersionsMs: null };
      const rssAtReady = rssMiB(b.pid);
      await new Promise((r) => setTimeout(r, 2000));
      ctx.record({
        id,
        section: 'target',
        kind: 'startup',
        scenario,
        system: target.label,
        ok: p.apiVersionsMs !== null,
        error: p.apiVersionsMs === null ? 'ApiVersions was not answered within 120 s' : null,
        command: b.commandLine,
        startup: {
          listeningMs: round(b.readyMs, 0),
          tcpMs: round(p.tcpMs, 0),
          apiVersionsMs: round(p.apiVersionsMs, 0),
          rssAtReadyMiB: round(rssAtReady, 0),
          rssAfter2sMiB: round(rssMiB(b.pid), 0),
          rssLoadedBeforeMiB: round(loadedRss, 0),
          peakRssMiB: round(peakRssMiB(b.pid), 0),
          previousShutdownMs: kind === 'clean' ? shutdownMs : null,
        },
      });
      await b.stop(kind === 'clean' ? 'kill' : 'clean'); // the clean start is ended by kill -9 for the next round
    }
  } catch (err) {
    fail('trib.startup.clean', `start-up, ${base}`, err.message);
  }
  const { broker } = h.get();
  if (broker?.alive()) await broker.stop('clean');
  await h.stopPhase();
}

/** Row ids of one rawload row over the rounds: the id itself with one round, `id.k` with more. */
export function rawRoundIds(params, id) {
  const rounds = params.rawRounds;
  return rounds <= 1 ? [id] : Array.from({ length: rounds }, (_, i) => `${id}.${i + 1}`);
}
