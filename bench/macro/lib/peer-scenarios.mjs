// The peers, measured at the same message size and count as Tributary, each server on
// 127.0.0.1 with a temporary directory and stopped by PID afterwards:
//
// - NATS JetStream: nats-server -js, a file-storage stream with one replica; natsbench
//   publishes asynchronously with a bounded number of pending acks, then reads the stream
//   back through a pull consumer. Then, on fresh streams, it publishes at the fixed rates
//   of Tributary's latency scenarios (same message size, duration and warm-up) for the
//   publish-ack latency at a given load.
// - Redis Streams: redis-server with AOF (appendfsync everysec, Redis' recommended
//   setting); redisbench pipelines XADD and reads back with XREAD COUNT. A second server
//   with appendfsync always (fsync before reply) is the peer of Tributary's durable mode.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { machineCpu, machineShares, peakRssMiB } from './procfs.mjs';
import { freePort, runTool as runToolNow, settleDisk, startServer, stopProcess } from './processes.mjs';

/** Every measurement starts with the page cache written back (see settleDisk). */
export const runTool = async (...args) => {
  settleDisk();
  const before = machineCpu();
  const r = await runToolNow(...args);
  return { ...r, machine: machineShares(before, machineCpu()) };
};

/** nats-server with JetStream on 127.0.0.1:port, file storage in dir. */
export const natsServerArgs = (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir];

/** natsbench publishing at a fixed rate on a stream of its own: the publish-ack latency runs. */
export const natsLatencyArgs = (params, port, stream, rate, seconds) => [
  'publish', '--url', `nats://127.0.0.1:${port}`, '--stream', stream, '--subject', `${stream}.data`, '-s', String(params.size),
  '--rate', String(rate), '--duration-s', String(seconds), '--warmup-s', String(params.warmupSeconds),
  '--max-pending', String(params.natsMaxPending), '--timeout-s', String(params.toolTimeoutS),
];

/** Records a peer row from a natsbench/redisbench result. */
export function row(ctx, base, r) {
  const x = r.result ?? {};
  ctx.record({
    section: 'peers',
    ok: r.ok && x.complete !== false,
    error: r.error ?? (x.complete === false ? `incomplete: ${x.acked ?? x.received} of ${x.sent ?? x.target}` : null),
    command: r.command,
    msgsPerS: x.msgs_per_s ?? null,
    mbPerS: x.mb_per_s ?? null,
    ack: x.ack_latency_us ?? null,
    count: x.acked ?? x.received ?? null,
    raw: x,
    machine: r.machine ?? null,
    ...base,
  });
}

async function withServer(ctx, name, command, args, readyPattern, dataDir, fn) {
  await mkdir(dataDir, { recursive: true });
  let server = null;
  try {
    server = await startServer(command, args, { logPath: join(ctx.logDir, `${name}.log`), readyPattern, readyTimeoutMs: 30_000 });
    await fn(server);
  } catch (err) {
    ctx.note(`${name}: ${err.message}`);
    ctx.record({ id: `${name}.server`, section: 'peers', scenario: `${name} server`, system: name, ok: false, error: err.message });
  } finally {
    if (server) await stopProcess(server.child);
    if (!ctx.keepData) await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runPeerScenarios(ctx) {
  const { params, tools, runDir } = ctx;
  const timeoutS = params.toolTimeoutS;
  const common = ['-n', String(params.peerCount), '-s', String(params.size), '--timeout-s', String(timeoutS)];
  const toolOpts = { timeoutMs: (timeoutS + 30) * 1000, logPath: join(ctx.logDir, 'tools.log') };

  const natsPort = await freePort();
  const natsDir = join(runDir, 'data', 'nats');
  await withServer(ctx, 'nats', 'nats-server', natsServerArgs(natsPort, natsDir), /Server is ready/, natsDir, async (server) => {
    const url = ['--url', `nats://127.0.0.1:${natsPort}`];
    const pub = await runTool(tools.natsbench, ['publish', ...url, ...common, '--max-pending', String(params.natsMaxPending)], toolOpts);
    row(ctx, { id: 'nats.publish', scenario: `publish max throughput, ${params.size} B, file store, async (max ${params.natsMaxPending} pending acks)`, system: 'NATS JetStream', kind: 'produce', rssMiB: peakRssMiB(server.pid) }, pub);
    const sub = await runTool(tools.natsbench, ['consume', ...url, ...common], toolOpts);
    row(ctx, { id: 'nats.consume', scenario: 'consume from the start (pull consumer)', system: 'NATS JetStream', kind: 'consume' }, sub);
    if (ctx.scenarios.has('latency')) {
      for (const rate of params.latencyRates) {
        const lat = await runTool(tools.natsbench, natsLatencyArgs(params, natsPort, `lat${rate}`, rate, params.latencySeconds), toolOpts);
        row(ctx, { id: `nats.latency.${rate}`, scenario: `publish-ack latency at ${rate} msgs/s, ${params.size} B, file store, async`, system: 'NATS JetStream', kind: 'latency' }, lat);
      }
    }
  });

  for (const fsync of ['everysec', 'always']) {
    const port = await freePort();
    const dir = join(runDir, 'data', `redis-${fsync}`);
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync, '--save', '', '--daemonize', 'no'];
    await withServer(ctx, `redis-${fsync}`, 'redis-server', args, /Ready to accept connections/, dir, async (server) => {
      const host = ['--port', String(port)];
      if (fsync === 'everysec') {
        const add = await runTool(tools.redisbench, ['xadd', ...host, ...common, '--pipeline', String(params.redisPipeline)], toolOpts);
        row(ctx, { id: 'redis.xadd', scenario: `XADD max throughput, ${params.size} B, AOF everysec, pipeline ${params.redisPipeline}`, system: 'Redis Streams', kind: 'produce', rssMiB: peakRssMiB(server.pid) }, add);
        const read = await runTool(tools.redisbench, ['xread', ...host, ...common], toolOpts);
        row(ctx, { id: 'redis.xread', scenario: 'XREAD COUNT 1000 from the start', system: 'Redis Streams', kind: 'consume' }, read);
      } else {
        const n = String(Math.max(1000, Math.round(params.peerCount / 5)));
        const args2 = ['xadd', ...host, '-n', n, '-s', String(params.size), '--timeout-s', String(timeoutS), '--pipeline', String(params.redisPipeline)];
        const add = await runTool(tools.redisbench, args2, toolOpts);
        row(ctx, { id: 'redis.xadd.always', scenario: `XADD, AOF always (fsync before reply), pipeline ${params.redisPipeline}`, system: 'Redis Streams', kind: 'produce-durable' }, add);
      }
    });
  }
}
