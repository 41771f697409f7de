// The 10k msgs/s latency target, measured in alternating runs.
//
// The latency rows of the Tributary phase and the NATS phase run minutes apart, and on
// this kind of VM the host's load moves a p99 by 2-5x from one minute to the next (the
// report records CPU steal per row). A single pair of rows then compares two moments of
// the host more than two brokers. Here both servers run side by side (each idle while the
// other is measured) and the runs alternate, A B B A A B...: Tributary's e2e run (producer
// and consumer, as in the latency rows) and NATS JetStream's publish run, at the same rate,
// size, duration and warm-up. The goals compare the medians of the runs' p99s.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { natsLatencyArgs, natsServerArgs, row, runTool } from './peer-scenarios.mjs';
import { cpuSeconds } from './procfs.mjs';
import { freePort, settleDisk, startServer, stopProcess } from './processes.mjs';
import { fromTribload } from './target-scenarios.mjs';

export const PAIRED_RATE = 10_000;

/** Row ids of the paired runs, for the goals: { trib: [...], nats: [...] }. */
export function pairedIds(params) {
  const ids = { trib: [], nats: [] };
  for (let k = 1; k <= params.pairedRuns; k++) {
    ids.trib.push(`trib.paired.${k}`);
    ids.nats.push(`nats.paired.${k}`);
  }
  return ids;
}

export async function runPairedLatency(ctx, target) {
  const { params, tools } = ctx;
  const timeoutS = params.toolTimeoutS;
  const toolOpts = { timeoutMs: (timeoutS + 60) * 1000, logPath: join(ctx.logDir, 'tools.log') };
  const rate = PAIRED_RATE;
  const tribDir = join(ctx.runDir, 'data', 'paired-tributary');
  const natsDir = join(ctx.runDir, 'data', 'paired-nats');
  await mkdir(tribDir, { recursive: true });
  await mkdir(natsDir, { recursive: true });
  let broker = null;
  let nats = null;
  try {
    broker = await target.start({ dataDir: tribDir, overrides: ctx.brokerOverrides });
    ctx.commands.add(broker.commandLine);
    ctx.log(`paired latency: ${target.label} on ${broker.bootstrap} (pid ${broker.pid}), NATS JetStream next to it`);
    const natsPort = await freePort();
    nats = await startServer('nats-server', natsServerArgs(natsPort, natsDir), {
      logPath: join(ctx.logDir, 'nats-paired.log'), readyPattern: /Server is ready/, readyTimeoutMs: 30_000,
    });
    const of = (k) => `alternating run ${k} of ${params.pairedRuns}`;

    const tribRun = async (k) => {
      const topic = `paired-${k}`;
      const created = await target.createTopic(broker, topic, 6);
      if (!created.ok) throw new Error(`creating ${topic}: ${created.error}`);
      settleDisk(); // before the CPU window (runTool's own is then a no-op)
      const cpu0 = cpuSeconds(broker.pid);
      const t0 = Date.now();
      const r = await runTool(tools.tribload, ['e2e', '-b', broker.bootstrap, '-t', topic, '-s', String(params.size), '--rate', String(rate), '--duration-s', String(params.pairedSeconds), '--warmup-s', String(params.warmupSeconds), '--acks', 'all', '--timeout-s', String(timeoutS)], toolOpts);
      const cpu1 = cpuSeconds(broker.pid);
      ctx.record({
        id: `trib.paired.${k}`, section: 'target', system: target.label, kind: 'latency',
        scenario: `latency at ${rate} msgs/s, acks=all, linger 0, 6 partitions: ${of(k)}`,
        ...fromTribload(r),
        brokerCpuPct: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / ((Date.now() - t0) / 1000)) * 100) : null,
        machine: r.machine,
      });
    };
    const natsRun = async (k) => {
      const r = await runTool(tools.natsbench, natsLatencyArgs(params, natsPort, `paired${k}`, rate, params.pairedSeconds), toolOpts);
      row(ctx, { id: `nats.paired.${k}`, scenario: `publish-ack latency at ${rate} msgs/s, ${params.size} B, file store, async: ${of(k)}`, system: 'NATS JetStream', kind: 'latency' }, r);
    };
    // A B B A A B ...: neither side always runs first, so a drift in the host's load
    // during the series falls on both.
    for (let k = 1; k <= params.pairedRuns; k++) {
      const tribFirst = Math.floor(k / 2) % 2 === 0;
      for (const run of tribFirst ? [tribRun, natsRun] : [natsRun, tribRun]) await run(k);
      ctx.log(`paired latency: run ${k} of ${params.pairedRuns} done`);
    }
  } catch (err) {
    ctx.note(`paired latency: ${err.message}`);
  } finally {
    if (nats) await stopProcess(nats.child);
    if (broker) await broker.stop('clean');
    if (!ctx.keepData) {
      await rm(tribDir, { recursive: true, force: true });
      await rm(natsDir, { recursive: true, force: true });
    }
  }
}
