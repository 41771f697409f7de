// CPU cost of the replication path, in ONE process: an in-process cluster (the brokers of
// packages/broker/test/helpers/cluster.ts, real sockets on loopback) and a lean producer
// share one thread, so process.cpuUsage() over the measured window is the whole cost of
// moving the records (the producer's own share is small and the same in every row). On
// the shared 2-core machine wall-clock throughput swings with the other helpers' load;
// CPU milliseconds per MB, on one thread, after a JIT warm-up, hardly do, so this is the
// figure to compare a change against the build before it (issue 15).
//
// Rows: (a) one broker, RF=1, acks=1; (b) three brokers, RF=3, acks=all,
// min.insync.replicas=2, one leader. Both with the load of bench/macro/replication.mjs:
// 6 partitions, 1 KiB records, batches of 16, one batch per partition per request, 5
// requests in flight. MB = 10^6 bytes of record values.
//
//   node --conditions=source --import tsx bench/micro/replication-cpu.ts [--seconds 8] [--warmup 4] [--rows single,rf3] [--rate MB_PER_S] [--offsets-partitions N] [--override key=value ...]
import { ApiKey, Writer, type FetchRequest, type FetchResponse, encodeBatchSync, encodeRequestHeader, requestHeaderVersion, apiSpecByKey, Reader, decodeResponseHeader, responseHeaderVersion, ErrorCode, type ProduceResponse } from '@tributary/protocol';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { TestCluster } from '../../packages/broker/test/helpers/cluster.js';
import { BrokerConnection } from '../../packages/broker/src/network/inter-broker-client.js';

// Counts the followers' Fetch round trips and response bytes (every inter-broker Fetch in
// this process is a follower's), by wrapping BrokerConnection.request: works on any build.
const fetches = { requests: 0, responseBytes: 0, requestPartitions: 0, responsePartitions: 0 };
{
  const original = BrokerConnection.prototype.request;
  BrokerConnection.prototype.request = function (this: BrokerConnection, api, version, body, timeoutMs, onFrame) {
    if (api !== 'Fetch') return original.call(this, api, version, body, timeoutMs, onFrame);
    fetches.requests++;
    for (const t of (body as FetchRequest).topics) fetches.requestPartitions += t.partitions.length;
    const answer = original.call(this, api, version, body, timeoutMs, (frame: Buffer) => {
      fetches.responseBytes += frame.length;
      onFrame?.(frame);
    });
    void answer.then((r) => { for (const t of (r as FetchResponse).responses) fetches.responsePartitions += t.partitions.length; }, () => {});
    return answer;
  } as typeof original;
}

const { values: cli } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    override: { type: 'string', multiple: true, default: [] },
    rate: { type: 'string' },
    warmup: { type: 'string', default: '4' },
    rows: { type: 'string', default: 'single,rf3' },
    partitions: { type: 'string', default: '6' },
    // __consumer_offsets partitions, replicated on every broker: idle partitions every follower fetch names (Kafka's default is 50).
    'offsets-partitions': { type: 'string', default: '1' },
  },
});
const SECONDS = Number(cli.seconds);
const WARMUP = Number(cli.warmup);
const PARTITIONS = Number(cli.partitions);
const RECORD_BYTES = 1024;
const BATCH_RECORDS = 16;
const IN_FLIGHT = 5;
const PRODUCE_VERSION = 9;
/** --rate MB/s: requests are sent at that pace (at most IN_FLIGHT outstanding), so that two builds are compared at the same throughput: a broker's CPU per MB falls as its requests grow fuller. */
const RATE_MB_PER_S = cli.rate === undefined ? undefined : Number(cli.rate);

/** One Produce request frame (size prefix included); its correlation id is patched per send. */
function produceFrame(topic: string, acks: number): Buffer {
  const value = Buffer.alloc(RECORD_BYTES, 0x61);
  const now = Date.now();
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeRequestHeader(w, requestHeaderVersion(ApiKey.Produce, PRODUCE_VERSION), { requestApiKey: ApiKey.Produce, requestApiVersion: PRODUCE_VERSION, correlationId: 0, clientId: 'replication-cpu' });
  apiSpecByKey(ApiKey.Produce)!.encodeRequest(w, PRODUCE_VERSION, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{
      name: topic,
      partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({
        index,
        records: encodeBatchSync({ baseOffset: 0, timestamp: now, records: Array.from({ length: BATCH_RECORDS }, () => ({ key: null, value, timestamp: now })) }),
      })),
    }],
  });
  w.endSizePrefix(slot);
  return w.finish();
}

/** Keeps IN_FLIGHT requests outstanding on one connection until stopped; counts acknowledged records. */
class Load {
  acked = 0;
  errors = 0;
  private correlationId = 1;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private stopped = false;
  private outstanding = 0;
  private idle: (() => void) | undefined;
  private readonly sentAt: number[] = [];
  latenciesMs: number[] = [];

  private constructor(private readonly socket: Socket, private readonly frame: Buffer) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static open(port: number, frame: Buffer): Promise<Load> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new Load(socket, frame)));
      socket.once('error', reject);
    });
  }

  private pacer: NodeJS.Timeout | undefined;

  start(): void {
    if (RATE_MB_PER_S === undefined) {
      for (let i = 0; i < IN_FLIGHT; i++) this.send();
      return;
    }
    const requestMB = (PARTITIONS * BATCH_RECORDS * RECORD_BYTES) / 1e6;
    const intervalMs = (1000 * requestMB) / RATE_MB_PER_S;
    let due = performance.now();
    const tick = (): void => {
      if (this.stopped) return;
      const now = performance.now();
      while (due <= now) {
        if (this.outstanding < IN_FLIGHT) this.send();
        due += intervalMs;
      }
      this.pacer = setTimeout(tick, Math.max(1, due - performance.now()));
    };
    tick();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.pacer !== undefined) clearTimeout(this.pacer);
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => { this.idle = resolve; });
  }

  close(): void {
    this.socket.destroy();
  }

  private send(): void {
    const frame = Buffer.from(this.frame);
    frame.writeInt32BE(this.correlationId++, 8);
    this.sentAt.push(performance.now());
    this.outstanding++;
    this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.bufferedBytes < 4) return;
      if (this.buffered[0]!.length < 4) this.buffered = [Buffer.concat(this.buffered)];
      const size = this.buffered[0]!.readInt32BE(0);
      if (this.bufferedBytes < 4 + size) return;
      const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      this.response(all.subarray(4, 4 + size));
      const rest = all.subarray(4 + size);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.bufferedBytes = rest.length;
    }
  }

  private response(frame: Buffer): void {
    const r = new Reader(frame);
    decodeResponseHeader(r, responseHeaderVersion(ApiKey.Produce, PRODUCE_VERSION));
    const response = apiSpecByKey(ApiKey.Produce)!.decodeResponse(r, PRODUCE_VERSION) as ProduceResponse;
    for (const t of response.responses) for (const p of t.partitionResponses) {
      if (p.errorCode === ErrorCode.NONE) this.acked += BATCH_RECORDS;
      else this.errors++;
    }
    this.outstanding--;
    this.latenciesMs.push(performance.now() - this.sentAt.shift()!);
    if (!this.stopped && RATE_MB_PER_S === undefined) this.send();
    else if (this.outstanding === 0) this.idle?.();
  }
}

async function createTopic(port: number, name: string, replicationFactor: number): Promise<void> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeRequestHeader(w, requestHeaderVersion(ApiKey.CreateTopics, 7), { requestApiKey: ApiKey.CreateTopics, requestApiVersion: 7, correlationId: 1, clientId: 'replication-cpu' });
  apiSpecByKey(ApiKey.CreateTopics)!.encodeRequest(w, 7, {
    // Every partition on replicas [1..RF], broker 1 leading, as row (b) of the macro bench.
    topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, brokerIds: Array.from({ length: replicationFactor }, (_, i) => i + 1) })), configs: [{ name: 'min.insync.replicas', value: replicationFactor > 1 ? '2' : '1' }] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  w.endSizePrefix(slot);
  socket.write(w.finish());
  await new Promise((resolve) => socket.once('data', resolve));
  socket.destroy();
}

async function row(kind: 'single' | 'rf3'): Promise<{ kind: string; mbPerS: number; cpuMsPerMB: number; userMsPerMB: number; systemMsPerMB: number; errors: number }> {
  const cleanups: (() => unknown)[] = [];
  const t = { after: (fn: () => unknown) => { cleanups.push(fn); } };
  try {
    const size = kind === 'single' ? 1 : 3;
    const cluster = await TestCluster.start(t, size, { 'replica.fetch.wait.max.ms': 500, 'replica.lag.time.max.ms': 30_000, ...Object.fromEntries(cli.override.map((kv) => kv.split('='))) }, { offsetsPartitions: Number(cli['offsets-partitions']) });
    const topic = `cpu-${kind}`;
    await createTopic(cluster.broker(1).port, topic, size);
    await new Promise((r) => setTimeout(r, 500));
    const leaders = new Map<number, number[]>();
    const meta = cluster.metadata.topic(topic)!;
    meta.partitions.forEach((p, i) => leaders.set(p.leader, [...(leaders.get(p.leader) ?? []), i]));
    if (leaders.size !== 1) throw new Error(`expected one leader for ${topic}, got ${[...leaders.keys()].join(',')}`);
    const leader = [...leaders.keys()][0]!;
    const load = await Load.open(cluster.broker(leader).port, produceFrame(topic, kind === 'single' ? 1 : -1));
    cleanups.push(() => load.close());
    load.start();
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const acked0 = load.acked;
    load.latenciesMs = [];
    const fetches0 = { ...fetches };
    const cpu0 = process.cpuUsage();
    const windowStartUs = Number(process.hrtime.bigint() / 1000n);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const cpu = process.cpuUsage(cpu0);
    // The measured window on CLOCK_MONOTONIC in µs, the clock of a --cpu-prof profile.
    process.stdout.write(`  window ${windowStartUs} ${Number(process.hrtime.bigint() / 1000n)}\n`);
    const wallS = (performance.now() - t0) / 1000;
    const mb = ((load.acked - acked0) * RECORD_BYTES) / 1e6;
    const fetchRequests = fetches.requests - fetches0.requests;
    if (fetchRequests > 0) process.stdout.write(`  follower fetches: ${(fetchRequests / mb).toFixed(1)} per MB produced (all followers), ${((fetches.responseBytes - fetches0.responseBytes) / fetchRequests / 1024).toFixed(1)} KiB per response, partitions per request ${((fetches.requestPartitions - fetches0.requestPartitions) / fetchRequests).toFixed(1)}, per response ${((fetches.responsePartitions - fetches0.responsePartitions) / fetchRequests).toFixed(1)}\n`);
    await load.stop();
    const sorted = load.latenciesMs.sort((a, b) => a - b);
    process.stdout.write(`  ack latency p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} ms, p90 ${sorted[Math.floor(sorted.length * 0.9)]?.toFixed(2)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms over ${sorted.length} requests\n`);
    return { kind, mbPerS: mb / wallS, cpuMsPerMB: (cpu.user + cpu.system) / 1000 / mb, userMsPerMB: cpu.user / 1000 / mb, systemMsPerMB: cpu.system / 1000 / mb, errors: load.errors };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

const results = [];
for (const kind of cli.rows.split(',') as ('single' | 'rf3')[]) {
  const r = await row(kind);
  results.push(r);
  process.stdout.write(`${r.kind}: ${r.mbPerS.toFixed(1)} MB/s on one thread, CPU ${r.cpuMsPerMB.toFixed(2)} ms/MB (user ${r.userMsPerMB.toFixed(2)}, system ${r.systemMsPerMB.toFixed(2)}), errors ${r.errors}, load ${loadavg()[0]!.toFixed(1)}\n`);
}
const single = results.find((r) => r.kind === 'single');
const rf3 = results.find((r) => r.kind === 'rf3');
if (single && rf3) process.stdout.write(`rf3 / single CPU per MB: ${(rf3.cpuMsPerMB / single.cpuMsPerMB).toFixed(2)}x\n`);
