/**
 * Shared pieces of the cluster tests (issue #15) that run broker PROCESSES (test/fault's
 * FaultBroker) on a real etcd: starting N brokers on given etcd endpoints (a broker may get
 * its own endpoints, e.g. a cuttable proxy), a workload of real clients on one topic, and
 * the check afterwards.
 *
 * The workload: a KafkaJS idempotent acks=all producer (one send loop per partition) and,
 * optionally, confluent-kafka-python's (librdkafka) idempotent acks=all producer
 * (test/fault/py/idempotent_producer.py), with a KafkaJS group consumer reading
 * throughout. Every error a client reports is counted, retriable ones included: KafkaJS's
 * own retries are logged by KafkaJS (its logCreator sees them), a thrown send is counted
 * too; librdkafka retries internally and reports delivery failures only. The consumer's
 * reads are the read-back: after the producers stop, it must reach every end offset, and
 * test/fault/checker.ts checks that every acknowledged record is at its offset, once, in
 * order.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type Consumer, type logCreator } from 'kafkajs';
import { requirePythonModule } from '../compat/kit.js';
import { checkHistory, type Ack, type CheckResult, type Read } from '../fault/checker.js';
import { FAULT_BROKER_CONFIG, FaultBroker } from '../fault/harness.js';
import { pyChild } from '../fault/run.js';
import { freePort } from './etcd-kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

type TestLike = { after(fn: () => void | Promise<void>): void; diagnostic(msg: string): void };

/** Records per second of each producer (split over the partitions). */
export const PRODUCE_RATE = 60;
/** How long the librdkafka producer may take to flush and exit once told to stop (then it is SIGKILLed). */
const PYTHON_STOP_TIMEOUT_MS = 60_000;

export interface ProcessCluster {
  readonly brokers: FaultBroker[];
  readonly runDir: string;
  bootstrap(): string[];
  /** Adds (and starts) one more broker process. */
  addBroker(nodeId: number, etcdEndpoints?: string): Promise<FaultBroker>;
  /** What broker `nodeId` has logged so far (stdout and stderr). */
  logOf(nodeId: number): string;
  close(): Promise<void>;
}

/**
 * Broker processes 1..count on `etcdEndpoints` (per node id overridable), FAULT_BROKER_CONFIG
 * plus `config`. Stopped by PID in `t.after`, and by close(); the run directory is removed
 * unless the test failed (then its path is printed, with the broker logs in it).
 */
export async function startBrokers(t: TestLike, opts: {
  count: number; etcdEndpoints: string; endpointsOf?: Record<number, string>; config?: Record<string, string | number>;
}): Promise<ProcessCluster> {
  const runDir = mkdtempSync(join(tmpdir(), 'tributary-cluster-'));
  const brokers: FaultBroker[] = [];
  const make = async (nodeId: number, endpoints: string): Promise<FaultBroker> => {
    const dataDir = join(runDir, `data-${nodeId}`);
    mkdirSync(dataDir, { recursive: true });
    const b = new FaultBroker(nodeId, await freePort(), dataDir, runDir, { ...FAULT_BROKER_CONFIG, ...opts.config, 'etcd.endpoints': endpoints });
    brokers.push(b);
    return b;
  };
  let failed = true;
  const close = async (): Promise<void> => {
    for (const b of brokers) await b.kill();
  };
  t.after(async () => {
    await close();
    if (failed) t.diagnostic(`broker logs kept in ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  });
  for (let id = 1; id <= opts.count; id++) await make(id, opts.endpointsOf?.[id] ?? opts.etcdEndpoints);
  await Promise.all(brokers.map((b) => startPatiently(b, join(runDir, `broker-${b.nodeId}.log`))));
  return {
    brokers,
    runDir,
    bootstrap: () => brokers.filter((b) => b.state === 'running').map((b) => b.bootstrap),
    addBroker: async (nodeId, endpoints) => {
      const b = await make(nodeId, endpoints ?? opts.etcdEndpoints);
      await startPatiently(b, join(runDir, `broker-${nodeId}.log`));
      return b;
    },
    logOf: (nodeId) => readFileSync(join(runDir, `broker-${nodeId}.log`), 'utf8'),
    close: async () => {
      await close();
      failed = false;
    },
  };
}

/** How long a broker process may take to listen here (FaultBroker's own bound is 30 s). */
const BROKER_START_PATIENCE_MS = 120_000;

/**
 * FaultBroker.start gives a broker 30 s to listen; on this shared 2-core machine, with other
 * suites compiling, loading the sources through tsx alone has taken longer. When that bound
 * passes with the process still running, this keeps waiting for its "listening on" line in
 * its log file (the harness copies stdout there), up to BROKER_START_PATIENCE_MS.
 */
async function startPatiently(b: FaultBroker, logFile: string): Promise<void> {
  const startedAtMs = Date.now();
  try {
    await b.start();
    return;
  } catch (err) {
    if (b.state !== 'running') throw err;
  }
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    if (text.slice(text.lastIndexOf('--- start')).includes('listening on')) return;
    if (b.state !== 'running') throw new Error(`broker ${b.nodeId} exited before listening; log in ${logFile}`);
    if (Date.now() - startedAtMs > BROKER_START_PATIENCE_MS) throw new Error(`broker ${b.nodeId} did not listen within ${BROKER_START_PATIENCE_MS} ms; log in ${logFile}`);
    await sleep(200);
  }
}

export function quietKafka(clientId: string, brokers: string[], extra: { log?: logCreator; requestTimeoutMs?: number } = {}): Kafka {
  return new Kafka({
    clientId, brokers, connectionTimeout: 1000, requestTimeout: extra.requestTimeoutMs ?? 5000,
    retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: extra.log ? logLevel.WARN : logLevel.NOTHING, ...(extra.log ? { logCreator: extra.log } : {}),
  });
}

export type PartitionInfo = { leader: number; isr: number[]; replicas: number[] };

/** The topic's partitions as one broker that answers sees them (undefined: none answered). */
export async function partitionsOf(bootstrap: string[], topic: string): Promise<Map<number, PartitionInfo> | undefined> {
  for (const b of bootstrap) {
    const admin = new Kafka({ clientId: 'probe', brokers: [b], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      return new Map(md.topics[0]!.partitions.map((p) => [p.partitionId, { leader: p.leader, isr: [...p.isr].sort(), replicas: [...p.replicas] }]));
    } catch { /* next broker */ } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  return undefined;
}

/**
 * The partitions of `topic` as ONE broker's metadata cache has them: a Metadata request on a
 * raw connection to it. (A KafkaJS admin bootstrapped on that broker may send its Metadata
 * request to any broker it has learned of.)
 */
export async function partitionsSeenBy(broker: { readonly port: number }, topic: string): Promise<Map<number, PartitionInfo> | undefined> {
  const client = await RawClient.open(broker.port);
  try {
    const md = await client.request('Metadata', 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const t = md.topics.find((x) => x.name === topic);
    if (t === undefined || t.errorCode !== 0) return undefined;
    return new Map(t.partitions.map((p) => [p.partitionIndex, { leader: p.leaderId, isr: [...p.isrNodes].sort(), replicas: [...p.replicaNodes] }]));
  } finally {
    client.close();
  }
}

/** Every broker sees `count` brokers (so topics created next get their full replication). */
export async function waitAllRegistered(bootstrap: string[], count: number, timeoutMs = 30_000): Promise<void> {
  for (const b of bootstrap) {
    const admin = new Kafka({ clientId: 'probe', brokers: [b], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const deadline = Date.now() + timeoutMs;
    while ((await admin.describeCluster()).brokers.length < count) {
      if (Date.now() > deadline) throw new Error(`broker ${b} never saw ${count} brokers`);
      await sleep(100);
    }
    await admin.disconnect();
  }
}

/** Creates an RF=3 topic (min.insync.replicas=2) and waits until every ISR is full. */
export async function createTopic(admin: Admin, bootstrap: string[], topic: string, partitions: number, assignment?: number[][]): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{
      topic, configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      ...(assignment ? { replicaAssignment: assignment.map((replicas, partition) => ({ partition, replicas })) } : { numPartitions: partitions, replicationFactor: 3 }),
    }],
  });
  await waitIsr(bootstrap, topic, (p) => p.isr.length === p.replicas.length && p.leader >= 0, 30_000);
}

export async function waitIsr(bootstrap: string[], topic: string, ok: (p: PartitionInfo) => boolean, timeoutMs: number): Promise<Map<number, PartitionInfo>> {
  const deadline = Date.now() + timeoutMs;
  let last: Map<number, PartitionInfo> | undefined;
  for (;;) {
    last = await partitionsOf(bootstrap, topic);
    if (last !== undefined && last.size > 0 && [...last.values()].every(ok)) return last;
    if (Date.now() > deadline) throw new Error(`topic ${topic} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last ? [...last] : null)}`);
    await sleep(200);
  }
}

export interface Workload {
  readonly acks: Ack[];
  /** Every error a client reported, retriable ones included (see the header). */
  readonly errors: string[];
  readonly reads: Read[];
  /** Stops the producers; then waits for the consumer to read every end offset and checks. */
  finish(bootstrap: string[]): Promise<CheckResult & { endOffsets: Record<number, number>; unread: string[] }>;
}

/** Counts every error-level KafkaJS log entry (its retries log the broker's error codes). */
function errorLog(errors: string[], who: string): logCreator {
  return () => ({ level, log }) => {
    if (level > logLevel.WARN) return;
    const m = log as unknown as { message?: string; error?: string };
    // KafkaJS's start-up notices, not errors.
    if (/switched default partitioner|Limiting retries for the idempotent producer/.test(m.message ?? '')) return;
    // Disconnects the test causes itself (a broker stopped on purpose) are not client errors of interest here.
    errors.push(`${who} ${level === logLevel.ERROR ? 'ERROR' : 'WARN'}: ${m.message ?? ''} ${m.error ?? ''}`.trim());
  };
}

/**
 * `producerRequestTimeoutMs`: the KafkaJS producer's request timeout (default 5 s, as the
 * other clients here). KafkaJS gives a Produce no timeout of its own, so below the produce
 * timeout (its send's `timeout`, 30 s, how long the broker may hold an acks=all request for
 * the ISR) it abandons requests the broker may still rightly be holding.
 */
export async function startWorkload(t: TestLike, bootstrap: string[], topic: string, partitions: number, opts: { python?: boolean; producerRequestTimeoutMs?: number } = {}): Promise<Workload> {
  const acks: Ack[] = [];
  const errors: string[] = [];
  const reads: Read[] = [];
  let stopped = false;

  const consumerKafka = quietKafka('cluster-consumer', bootstrap, { log: errorLog(errors, 'kafkajs-consumer') });
  const consumer: Consumer = consumerKafka.consumer({ groupId: `cluster-${topic}`, sessionTimeout: 6000, heartbeatInterval: 500, retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
  await consumer.connect();
  t.after(() => consumer.disconnect().catch(() => undefined));
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => { reads.push({ partition, offset: Number(message.offset), value: message.value!.toString() }); } });

  const producerKafka = quietKafka('cluster-kafkajs', bootstrap, { log: errorLog(errors, 'kafkajs-producer'), ...(opts.producerRequestTimeoutMs !== undefined ? { requestTimeoutMs: opts.producerRequestTimeoutMs } : {}) });
  const producer = producerKafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect().catch(() => undefined));
  let seq = 0;
  const loops = Array.from({ length: partitions }, (_, partition) => (async () => {
    while (!stopped) {
      const value = `kjs-${seq++}`;
      try {
        const [meta] = await producer.send({ topic, acks: -1, messages: [{ partition, value }] });
        acks.push({ client: 'kafkajs', partition, offset: Number(meta!.baseOffset), value, atMs: Date.now() });
      } catch (e) {
        errors.push(`kafkajs send ${value}: ${(e as Error).message}`);
        await sleep(100);
      }
      await sleep(1000 / (PRODUCE_RATE / partitions));
    }
  })());

  let stopPython = async (): Promise<void> => undefined;
  if (opts.python) {
    requirePythonModule('confluent_kafka');
    const child = pyChild('idempotent_producer.py', [bootstrap.join(','), topic, String(partitions), 'rdk', String(PRODUCE_RATE)], (f) => {
      if (f[0] === 'A') acks.push({ client: 'librdkafka', partition: Number(f[1]), offset: Number(f[2]), value: f[3]!, atMs: Number(f[4]) });
      else if (f[0] === 'E') errors.push(`librdkafka delivery ${f.slice(1).join(' ')}`);
      // A fatal error (the script goes on as a new producer instance): a client error here.
      else if (f[0] === 'F') errors.push(`librdkafka fatal ${f.slice(1).join(' ')}`);
    }, errors);
    t.after(() => { child.kill(); });
    stopPython = async () => { await child.stop(PYTHON_STOP_TIMEOUT_MS); };
  }

  return {
    acks, errors, reads,
    finish: async (finalBootstrap) => {
      stopped = true;
      await Promise.all(loops);
      await stopPython();
      await producer.disconnect().catch(() => undefined);
      const admin = quietKafka('cluster-readback', finalBootstrap).admin();
      await admin.connect();
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
      await admin.disconnect();
      const log = new Map<number, (string | undefined)[]>([...ends.keys()].map((p) => [p, []]));
      const fill = () => { for (const r of reads) if (r.offset < (ends.get(r.partition) ?? 0)) log.get(r.partition)![r.offset] = r.value; };
      const unreadOf = () => [...ends].filter(([p, end]) => log.get(p)!.filter((v) => v !== undefined).length < end).map(([p, end]) => `partition ${p}: ${log.get(p)!.filter((v) => v !== undefined).length} of ${end} read`);
      const deadline = Date.now() + 30_000;
      for (fill(); unreadOf().length > 0 && Date.now() < deadline; fill()) await sleep(200);
      await consumer.stop();
      const check = checkHistory({ acks, log, endOffsets: ends, liveReads: reads });
      return { ...check, endOffsets: Object.fromEntries(ends), unread: unreadOf() };
    },
  };
}
