/**
 * One fault run: a cluster (harness.ts), a workload of idempotent acks=all producers
 * (KafkaJS in this process, librdkafka through confluent-kafka-python in a child) and a
 * KafkaJS group consumer reading during the faults, a seeded schedule of faults
 * (scheduler.ts), then healing, read-back by two group consumers (KafkaJS and librdkafka)
 * and the checker (checker.ts). The report goes to a file that outlives the run; the run's
 * directory (data, broker logs, history) is kept when the run fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { requirePythonModule, DEBIAN_PYTHON } from '../compat/kit.js';
import { checkHistory, failoverMs, percentile, unavailableWindows, violations, type Ack, type CheckResult, type Read, type Window } from './checker.js';
import { FAULT_TIMINGS, REPO_ROOT, startFaultCluster, type FaultCluster } from './harness.js';
import { describeFault, faultSchedule, type Fault, type FaultKind } from './scheduler.js';
import { inject } from './inject.js';
import { classifyDuplicates, duplicateReport, explainedCopies, RDK_DEBUG_CONTEXTS, RDK_DEBUG_LOG, readBatchHeaders } from './dup-classify.js';
import { classifyRdkFatal, sequencesWritten } from './rdk-fatal.js';
import { checkCommittedOffsets, checkTransactions, txnViolations, type OffsetCheck, type OffsetEvent, type TxnCheck, type TxnEnd } from './txn-checker.js';

type TestLike = { after(fn: () => void | Promise<void>): void; diagnostic(msg: string): void };

export const TOPIC = 'fault';
export const PARTITIONS = 3;
/** The transactional workload's topic: one record per partition in each transaction. */
export const TXN_TOPIC = 'fault-txn';
/** Transactions per second at most (each waits for its commit; failovers slow it). */
const TXN_RATE = 5;
/** The consumer group that reads TXN_TOPIC read_committed during the faults and commits offsets. */
const TXN_LIVE_GROUP = 'fault-txn-live';
/** The live transactional reader restarts its consumer this often: each restart rejoins and fetches its offsets. */
const TXN_REJOIN_MS = 4000;
/**
 * The one fatal error the transactional producer may meet under faults, as against Kafka:
 * _FENCED (PRODUCER_FENCED), when the coordinator aborted a transaction that outlived its
 * transaction.timeout.ms during a fault and bumped the producer epoch. Any other fatal
 * error fails the run. (Until session 13 an abort answered INVALID_TXN_STATE after the
 * coordinator moved was let through as a known problem; session 12 fixed its causes,
 * docs/reliability.md, and a default run no longer meets it.)
 */
const EXPECTED_TXN_FATAL = /code=_FENCED\b/;
/** The KafkaJS consumer group that reads TOPIC during the faults (it commits offsets too). */
const LIVE_GROUP = 'fault-live';
/** Gaps between acknowledgements of one partition longer than this count as unavailability. */
const UNAVAILABLE_THRESHOLD_MS = 1000;
/** How long a healed cluster may take to bring every replica back into every ISR. */
const HEAL_TIMEOUT_MS = 60_000;
/** How long a fault aimed at "the leader of partition p" waits for an answer naming one. */
const TARGET_TIMEOUT_MS = 20_000;
/** The read-back gives up when no record arrived for this long. */
const READBACK_STALL_MS = 30_000;
/** Records per second of each producer. */
const PRODUCE_RATE = 100;

export interface FaultEvent {
  readonly fault: string;
  readonly kind: Fault['kind'];
  readonly nodeId: number;
  /** Partitions the broker led when the fault fired. */
  readonly led: number[];
  readonly atMs: number;
  healedAtMs: number;
  /** Per partition led, per client: ms from the fault to the client's next acknowledgement there. */
  failover: Record<string, Record<string, number>>;
  /** Whether every ISR was full again before the next fault. */
  isrRestored: boolean;
  /** What the injection did (inject.ts). */
  detail: string;
  /** disk-full only: the broker stopped by itself. */
  stoppedOnFullDisk?: boolean;
}

/** The checker's result (checker.ts CheckResult) and what the run itself measured. */
export interface FaultReport extends CheckResult {
  seed: number;
  schedule: string[];
  events: FaultEvent[];
  liveReads: number;
  /** Acknowledgements per producer client. */
  acknowledgedBy: Record<string, number>;
  /** Producer failures that are not retriable hiccups (a client that died). */
  fatalErrors: string[];
  /**
   * Fatal errors of the transactional producer (it starts a new instance after each). Expected
   * under faults: _FENCED when the coordinator aborted a transaction that outlived its
   * transaction.timeout.ms and bumped the epoch, as Kafka does.
   */
  txnFatal: string[];
  /** txnFatal other than EXPECTED_TXN_FATAL: a bug (the run fails on any). */
  txnFatalUnexpected: string[];
  /**
   * Duplicates by class (dup-classify.ts): `duplicated` lists the broker and unexplained ones
   * (they fail the run); clientEpochBumpDuplicates the librdkafka leader-change race (issue #16),
   * each with the bump's debug log line; they do not fail the run.
   */
  duplicates: { broker: number; unexplained: number; clientEpochBump: number };
  clientEpochBumpDuplicates: string[];
  /**
   * The librdkafka producer's fatal errors that are its own (rdk-fatal.ts: librdkafka <= 2.2
   * counting a possibly persisted batch as acknowledged, every broker answer Kafka's); it went
   * on as a new instance. Its other fatal errors are in fatalErrors and fail the run.
   */
  librdkafkaOwnFatals: string[];
  /** The librdkafka producer's debug log (eos,msg), kept with the run directory when the run is kept. */
  rdkDebugLog: string;
  /** Records the librdkafka group consumer read back after healing (must equal recordsInLog). */
  readBackLibrdkafka: number;
  produceErrors: number;
  failoverP50Ms: number | null;
  failoverP99Ms: number | null;
  /** Kill faults only: the must-hold bound is max(2 x replica.lag.time.max.ms, session timeout). */
  failoverBoundMs: number;
  /** Per fault kind: p50 / p99 / max of the time to the next acknowledgement on the partitions the victim led. */
  failoverByKind: Record<string, { n: number; p50: number | null; p99: number | null; max: number | null }>;
  unavailableWindows: Window[];
  /** The transactional workload (txn-checker.ts): committed / aborted / unknown, lost, torn, aborted records seen. */
  transactions: TxnCheck;
  /** Committed offsets (txn-checker.ts): commits acknowledged, OffsetFetches after rejoins, what went backwards. */
  offsets: OffsetCheck;
  /** Leaders of TXN_TOPIC's partitions when the workload started (the transactions span them). */
  txnLeaders: Record<string, number>;
  /** Seconds spent in each phase of the run (set-up, faults, read-back, ...). */
  phases: Record<string, number>;
  durationMs: number;
  runDir: string;
}

export function reportDir(): string {
  return process.env['TRIBUTARY_FAULT_REPORT_DIR'] ?? join(tmpdir(), 'tributary-fault-reports');
}

/**
 * Retries `fn` until it succeeds or `timeoutMs` passes: on a loaded machine KafkaJS's
 * fetchTopicMetadata has thrown a TypeError on an empty answer during set-up.
 */
async function retrying<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(500);
    }
  }
}

type Leaders = Map<number, { leader: number; isr: number[] }>;

/** Leaders and ISRs of `topics` (one metadata request), per topic. */
async function leaders(admin: Admin, topics: readonly string[]): Promise<Map<string, Leaders>> {
  const md = await admin.fetchTopicMetadata({ topics: [...topics] });
  return new Map(md.topics.map((t) => [t.name, new Map(t.partitions.map((p) => [p.partitionId, { leader: p.leader, isr: p.isr }]))]));
}

/** Metadata from whichever broker answers; undefined when none does within the timeout. */
async function leadersFrom(cluster: FaultCluster, topic = TOPIC): Promise<Leaders | undefined> {
  return (await leadersOf(cluster, [topic]))?.get(topic);
}

async function leadersOf(cluster: FaultCluster, topics: readonly string[]): Promise<Map<string, Leaders> | undefined> {
  for (const b of cluster.brokers) {
    if (b.state !== 'running') continue;
    const kafka = new Kafka({ clientId: 'fault-probe', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } });
    const admin = kafka.admin();
    try {
      await admin.connect();
      return await leaders(admin, topics);
    } catch { /* next broker */ } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  return undefined;
}

async function waitFullIsr(cluster: FaultCluster, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const all = await leadersOf(cluster, [TOPIC, TXN_TOPIC]);
    const full = (m: Leaders | undefined): boolean => m !== undefined && m.size === PARTITIONS && [...m.values()].every((p) => p.leader >= 0 && p.isr.length === cluster.brokers.length);
    if (full(all?.get(TOPIC)) && full(all?.get(TXN_TOPIC))) return true;
    await sleep(250);
  }
  return false;
}

/** The KafkaJS producer: one idempotent producer, one send loop per partition. */
function kafkajsProducer(cluster: FaultCluster, acks: Ack[], errors: string[]) {
  const kafka = new Kafka({ clientId: 'fault-kafkajs', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 5000,
    // Backoff capped at 250 ms: the failover bound measures the cluster, and KafkaJS's
    // growth to 1 s (plus 20% jitter) would spend a quarter of it waiting after the new
    // leader is known. librdkafka's retry.backoff.ms is 100 ms.
    retry: { retries: 200, initialRetryTime: 100, maxRetryTime: 250 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let stopped = false;
  let seq = 0;
  const loops: Promise<void>[] = [];
  const start = async () => {
    await producer.connect();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      loops.push((async () => {
        while (!stopped) {
          // seq is shared by the loops; within a partition each loop's values increase.
          const value = `kjs-${seq++}`;
          try {
            const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] });
            acks.push({ client: 'kafkajs', partition, offset: Number(meta!.baseOffset), value, atMs: Date.now() });
          } catch (e) {
            errors.push(`kafkajs ${value}: ${(e as Error).message}`);
            await sleep(100);
          }
          await sleep(1000 / (PRODUCE_RATE / PARTITIONS));
        }
      })());
    }
  };
  const stop = async () => {
    stopped = true;
    await Promise.all(loops);
    await producer.disconnect().catch(() => undefined);
  };
  return { start, stop };
}

/**
 * The librdkafka producer (confluent-kafka-python), stopped by closing its stdin. After a
 * fatal error it goes on as a new instance; the error's reason goes to `fatals` (classified
 * after the run: rdk-fatal.ts).
 */
function pythonProducer(cluster: FaultCluster, acks: Ack[], errors: string[], fatals: string[], debugLog: string) {
  // Its debug log says why it bumped its epoch: the checker needs it to classify duplicates.
  // TRIBUTARY_RDKAFKA_DEBUG overrides the contexts (empty: none).
  const env = { ...process.env, TRIBUTARY_RDKAFKA_DEBUG: process.env['TRIBUTARY_RDKAFKA_DEBUG'] ?? RDK_DEBUG_CONTEXTS, TRIBUTARY_RDKAFKA_DEBUG_FILE: process.env['TRIBUTARY_RDKAFKA_DEBUG_FILE'] ?? debugLog };
  const child = pyChild('idempotent_producer.py', [cluster.bootstrap.join(','), TOPIC, String(PARTITIONS), 'rdk', String(PRODUCE_RATE)], (f) => {
    if (f[0] === 'A') acks.push({ client: 'librdkafka', partition: Number(f[1]), offset: Number(f[2]), value: f[3]!, atMs: Number(f[4]) });
    else if (f[0] === 'E') errors.push(`librdkafka ${f.join(' ')}`);
    else if (f[0] === 'F') fatals.push(f.slice(1).join(' '));
  }, errors, env);
  return { stop: async () => { await child.stop(150_000); }, kill: child.kill };
}

/** A Python child (py/<script>) whose stdout lines go to `onLine`; `stop` closes its stdin and waits for its exit. */
export function pyChild(script: string, args: string[], onLine: (fields: string[]) => void, errors: string[], env?: NodeJS.ProcessEnv) {
  const child = spawn(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/fault/py', script), ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(env !== undefined ? { env } : {}) });
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      onLine(line.split(' '));
    }
  });
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20_000); });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return {
    send: (line: string) => { child.stdin!.write(line + '\n'); },
    stop: async (timeoutMs: number) => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) errors.push(`${script} exited with ${code}: ${stderr.slice(-2000)}`);
      return stderr;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** The transactional producer (py/txn_producer.py): every transaction's end, as it reported it. */
function txnProducer(cluster: FaultCluster, ends: TxnEnd[], errors: string[]) {
  return pyChild('txn_producer.py', [cluster.bootstrap.join(','), TXN_TOPIC, String(PARTITIONS), 'fault-txn-producer', String(TXN_RATE)], (f) => {
    if (f[0] === 'C' || f[0] === 'X' || f[0] === 'U') ends.push({ n: Number(f[1]), count: Number(f[2]), outcome: f[0] === 'C' ? 'committed' : f[0] === 'X' ? 'aborted' : 'unknown' });
    else if (f[0] === 'E') errors.push(`txn ${f.slice(1).join(' ')}`);
  }, errors);
}

/** A read_committed librdkafka group consumer of TXN_TOPIC (py/txn_group_reader.py) that commits as it reads. */
function txnReader(cluster: FaultCluster, group: string, reads: Read[], commits: OffsetEvent[], fetches: OffsetEvent[], errors: string[], rejoinMs = 0, endIdleMs = 35_000) {
  return pyChild('txn_group_reader.py', [cluster.bootstrap.join(','), TXN_TOPIC, group, String(rejoinMs / 1000), String(endIdleMs / 1000)], (f) => {
    if (f[0] === 'R') reads.push({ partition: Number(f[1]), offset: Number(f[2]), value: f[3]! });
    else if (f[0] === 'C') commits.push({ group, partition: Number(f[1]), offset: Number(f[2]), atMs: Number(f[3]) });
    else if (f[0] === 'F') fetches.push({ group, partition: Number(f[1]), offset: Number(f[2]), atMs: Number(f[3]) });
    else if (f[0] === 'E') errors.push(`${group} ${f.slice(1).join(' ')}`);
    else if (f[0] === 'D' && f[1] !== 'reached') errors.push(`${group} stopped before its end offsets (${f[1]})`);
  }, errors);
}

/** A KafkaJS group consumer from the earliest offset; `until` resolves when every end offset is reached. */
async function kafkajsReader(cluster: FaultCluster, groupId: string, onRecord: (r: Read) => void, onCommit?: (c: OffsetEvent) => void): Promise<Consumer> {
  const kafka = new Kafka({ clientId: `fault-${groupId}`, brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 5000,
    retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
  if (onCommit !== undefined) {
    // Emitted once the coordinator answered the OffsetCommit without error (KafkaJS
    // offsetManager.commitOffsets): an acknowledged commit.
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      const atMs = Date.now();
      for (const tp of e.payload.topics) for (const p of tp.partitions) onCommit({ group: groupId, partition: p.partition, offset: Number(p.offset), atMs });
    });
  }
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      onRecord({ partition, offset: Number(message.offset), value: message.value!.toString() });
    },
  });
  return consumer;
}

/** The tmpfs broker's log directory size: room for a run's data, small enough to fill in a moment. */
const TMPFS_SIZE_MB = 256;
/** The broker whose log directory is a tmpfs when 'disk-full' is among the kinds. */
const TMPFS_NODE_ID = 3;

export interface RunOptions {
  seed: number;
  faults: number;
  quietMs?: number;
  /** Allowed fault kinds (default: kill and pause). */
  kinds?: readonly FaultKind[];
  /** Every allowed kind once after the first fault (scheduler.ts). */
  coverKinds?: boolean;
  delayMs?: readonly [number, number];
  downMs?: readonly [number, number];
  /** A file name tag for the report. */
  name?: string;
}

export async function runFaultRun(t: TestLike, opts: RunOptions): Promise<FaultReport> {
  requirePythonModule('confluent_kafka');
  const startedAt = Date.now();
  mkdirSync(reportDir(), { recursive: true });
  const runDir = mkdtempSync(join(tmpdir(), `tributary-fault-${opts.seed}-`));
  const kinds = opts.kinds ?? ['kill', 'pause'];
  const diskFull = kinds.includes('disk-full');
  if (diskFull && process.getuid?.() !== 0) throw new Error('disk-full faults mount a tmpfs: run as root');
  const etcdMembers = kinds.some((k) => k.startsWith('etcd-')) ? 3 : 1;
  const schedule = faultSchedule(opts.seed, {
    faults: opts.faults, brokers: 3, partitions: PARTITIONS, kinds, ...(opts.coverKinds === true ? { coverKinds: true } : {}),
    ...(diskFull ? { tmpfsNodeId: TMPFS_NODE_ID } : {}),
    ...(opts.delayMs ? { delayMs: opts.delayMs } : {}), ...(opts.downMs ? { downMs: opts.downMs } : {}),
  });
  t.diagnostic(`seed ${opts.seed} (replay: TRIBUTARY_SEED=${opts.seed}); kinds ${kinds.join(',')}; etcd members ${etcdMembers}; run directory ${runDir}`);
  for (const f of schedule) t.diagnostic(`schedule ${describeFault(f)}`);

  const phases: Record<string, number> = {};
  let phaseAt = Date.now();
  const phase = (name: string): void => {
    const now = Date.now();
    phases[name] = Math.round((now - phaseAt) / 100) / 10;
    phaseAt = now;
  };
  const cluster = await startFaultCluster(t, { runDir, etcdMembers, ...(diskFull ? { tmpfs: { nodeId: TMPFS_NODE_ID, sizeMb: TMPFS_SIZE_MB } } : {}) });
  // Every broker must see all three before anything is created: a broker that does not yet
  // see the others would create __consumer_offsets with fewer replicas (see
  // docs/reliability.md, "Known differences").
  for (const b of cluster.brokers) {
    const probe = new Kafka({ clientId: 'fault-probe', brokers: [b.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await probe.connect();
    const deadline = Date.now() + HEAL_TIMEOUT_MS;
    while ((await probe.describeCluster()).brokers.length < cluster.brokers.length) {
      if (Date.now() > deadline) throw new Error(`broker ${b.nodeId} never saw all ${cluster.brokers.length} brokers`);
      await sleep(100);
    }
    await probe.disconnect();
  }
  const kafka = new Kafka({ clientId: 'fault-admin', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 20 } });
  const admin = kafka.admin();
  await admin.connect();
  phase('cluster start');
  await admin.createTopics({ waitForLeaders: true, topics: [TOPIC, TXN_TOPIC].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] })) });
  // Work-around for a broker bug this suite found (docs/reliability.md, "Known problems"):
  // the first broker of a new cluster creates __consumer_offsets at start-up, before the
  // others registered, with its replication factor capped to the one live broker. With
  // min.insync.replicas=2 on the brokers every group then fails (NOT_ENOUGH_REPLICAS on
  // each assignment); without it, killing that broker takes every group offline. The run
  // reassigns the topic to all three brokers before the workload starts.
  const offsets = await retrying(async () => (await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics[0]!, HEAL_TIMEOUT_MS);
  const ids = cluster.brokers.map((b) => b.nodeId);
  const under = offsets.partitions.filter((p) => p.replicas.length < ids.length);
  if (under.length > 0) {
    t.diagnostic(`__consumer_offsets has ${under.length} partitions with fewer than ${ids.length} replicas; reassigning them`);
    await admin.alterPartitionReassignments({ topics: [{ topic: '__consumer_offsets', partitionAssignment: under.map((p) => ({ partition: p.partitionId, replicas: [p.leader, ...ids.filter((id) => id !== p.leader)] })) }] });
    const deadline = Date.now() + HEAL_TIMEOUT_MS;
    for (;;) {
      const md = (await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics[0]!;
      if (md.partitions.every((p) => p.isr.length === ids.length && p.replicas.length === ids.length)) break;
      if (Date.now() > deadline) throw new Error('__consumer_offsets was not reassigned to every broker in time');
      await sleep(250);
    }
  }
  await admin.disconnect();
  if (!(await waitFullIsr(cluster, HEAL_TIMEOUT_MS))) throw new Error('the new topic never had every replica in its ISR');

  const acks: Ack[] = [];
  const errors: string[] = [];
  const liveReads: Read[] = [];
  const commits: OffsetEvent[] = [];
  const fetches: OffsetEvent[] = [];
  const txnEnds: TxnEnd[] = [];
  const txnLiveReads: Read[] = [];
  const txnLeaders = Object.fromEntries([...(await leadersFrom(cluster, TXN_TOPIC)) ?? []].map(([p, x]) => [String(p), x.leader]));
  t.diagnostic(`${TXN_TOPIC} leaders (partition: broker): ${JSON.stringify(txnLeaders)}`);
  const live = await kafkajsReader(cluster, LIVE_GROUP, (r) => liveReads.push(r), (c) => commits.push(c));
  const kjs = kafkajsProducer(cluster, acks, errors);
  await kjs.start();
  const rdkDebugLog = process.env['TRIBUTARY_RDKAFKA_DEBUG_FILE'] ?? join(runDir, RDK_DEBUG_LOG);
  const rdkFatals: string[] = [];
  const rdk = pythonProducer(cluster, acks, errors, rdkFatals, rdkDebugLog);
  t.after(() => { rdk.kill(); });
  const txn = txnProducer(cluster, txnEnds, errors);
  t.after(() => { txn.kill(); });
  // The live reader need not reach the end (the read-back checks the whole topic): 5 s idle ends it.
  const txnLive = txnReader(cluster, TXN_LIVE_GROUP, txnLiveReads, commits, fetches, errors, TXN_REJOIN_MS, 5000);
  t.after(() => { txnLive.kill(); });
  // Warm-up: the first transaction creates __transaction_state (as in Kafka, on the first
  // FindCoordinator for a transaction); the first fault must not land in the middle of that.
  for (const deadline = Date.now() + HEAL_TIMEOUT_MS; txnEnds.length === 0 || fetches.length === 0;) {
    if (Date.now() > deadline) throw new Error(`the transactional workload did not start: ${txnEnds.length} transactions ended, ${fetches.length} offset fetches; ${errors.slice(-3).join('; ')}`);
    await sleep(100);
  }
  phase('set-up');
  await sleep(opts.quietMs ?? 3000);

  const events: FaultEvent[] = [];
  for (const f of schedule) {
    await sleep(f.delayMs);
    // Ask until some broker answers with leaders: on a loaded machine one probe can time
    // out, and a skipped fault is a schedule that did not run.
    let state = await leadersFrom(cluster);
    for (const deadline = Date.now() + TARGET_TIMEOUT_MS; Date.now() < deadline && 'leaderOf' in f.target && !((state?.get(f.target.leaderOf)?.leader ?? -1) >= 0);) {
      await sleep(250);
      state = await leadersFrom(cluster);
    }
    let nodeId: number;
    if ('leaderOf' in f.target) nodeId = state?.get(f.target.leaderOf)?.leader ?? -1;
    else if ('nodeId' in f.target) nodeId = f.target.nodeId;
    else nodeId = 0;
    if (nodeId < 0) {
      t.diagnostic(`fault ${describeFault(f)}: no leader to hit, skipped`);
      continue;
    }
    const led = state === undefined || nodeId === 0 ? [] : [...state].filter(([, p]) => p.leader === nodeId).map(([p]) => p);
    const atMs = Date.now();
    const event: FaultEvent = { fault: describeFault(f), kind: f.kind, nodeId, led, atMs, healedAtMs: 0, failover: {}, isrRestored: false, detail: '' };
    events.push(event);
    const done = await inject(cluster, f, nodeId, TOPIC, PARTITIONS);
    event.detail = done.detail;
    if (done.stoppedOnFullDisk !== undefined) event.stoppedOnFullDisk = done.stoppedOnFullDisk;
    event.healedAtMs = Date.now();
    event.isrRestored = await waitFullIsr(cluster, HEAL_TIMEOUT_MS);
    t.diagnostic(`${event.fault}: ${nodeId > 0 ? `broker ${nodeId} (led ${led.join(',') || 'nothing'})` : 'etcd'}: ${event.detail}; ISR ${event.isrRestored ? 'restored' : 'NOT restored'} ${Date.now() - event.healedAtMs} ms after healing`);
    if (!event.isrRestored) break;
  }
  phase('faults');
  // Produce on the healed cluster for a while: every client must get through again.
  await sleep(3000);
  await Promise.all([kjs.stop(), rdk.stop(), txn.stop(150_000), live.stop()]);
  phase('stop producers');
  // The live transactional reader reads on to the end, then stops.
  const txnAdmin = kafka.admin();
  await txnAdmin.connect();
  const txnEnd = (await txnAdmin.fetchTopicOffsets(TXN_TOPIC)).map((o) => `${o.partition}:${o.high}`).join(',');
  txnLive.send(`END ${txnEnd}`);
  await txnLive.stop(150_000);
  phase('stop readers');

  // Read-back after healing: the end offsets, then two group consumers up to them.
  const readAdmin = kafka.admin();
  await readAdmin.connect();
  const endOffsets = new Map((await readAdmin.fetchTopicOffsets(TOPIC)).map((o) => [o.partition, Number(o.high)]));
  await readAdmin.disconnect();
  const log = new Map<number, (string | undefined)[]>();
  for (let p = 0; p < PARTITIONS; p++) log.set(p, []);
  const aboveEnd: Read[] = [];
  let lastReadAtMs = Date.now();
  let reached: () => void = () => undefined;
  const allRead = new Promise<void>((res) => { reached = res; });
  const done = () => [...endOffsets].every(([p, end]) => log.get(p)!.filter((v) => v !== undefined).length >= end);
  const reader = await kafkajsReader(cluster, 'fault-readback', (r) => {
    lastReadAtMs = Date.now();
    if (r.offset >= (endOffsets.get(r.partition) ?? 0)) aboveEnd.push(r);
    else log.get(r.partition)![r.offset] = r.value;
    if (done()) reached();
  });
  if (!done()) {
    // A long run's 100,000 records take minutes to read on a loaded machine: give up only
    // when the reader stops making progress (a fixed 60 s cut a 75-fault read-back short).
    const timer = setInterval(() => { if (Date.now() - lastReadAtMs > READBACK_STALL_MS) reached(); }, 1000);
    await allRead;
    clearInterval(timer);
  }
  await reader.stop();
  await reader.disconnect();
  const ends = [...endOffsets].map(([p, o]) => `${p}:${o}`).join(',');
  const py = await new Promise<{ code: number | null; out: string; err: string }>((res) => {
    const c = spawn(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/fault/py/group_reader.py'), cluster.bootstrap.join(','), TOPIC, 'fault-readback-rdk', ends], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    c.once('exit', (code) => res({ code, out, err }));
  });
  await live.disconnect().catch(() => undefined);
  const otherReads: Read[] = py.out.split('\n').filter((l) => l.startsWith('R ')).map((l) => {
    const f = l.split(' ');
    return { partition: Number(f[1]), offset: Number(f[2]), value: f[3]! };
  });
  if (py.code !== 0) errors.push(`librdkafka read-back exited with ${py.code}: ${py.err}`);
  t.diagnostic(`librdkafka read-back: ${otherReads.length} records; ${py.err.trim().split('\n').slice(-1)[0]}`);

  // The transactional topic read back read_committed by a new group, to its end.
  const txnReadBack: Read[] = [];
  const txnBack = txnReader(cluster, 'fault-txn-readback', txnReadBack, [], [], errors);
  txnBack.send(`END ${txnEnd}`);
  await txnBack.stop(150_000);
  // What OffsetFetch answers for the groups that committed during the faults, every consumer stopped.
  const final = new Map<string, Map<number, number>>();
  for (const [group, topic] of [[LIVE_GROUP, TOPIC], [TXN_LIVE_GROUP, TXN_TOPIC]] as const) {
    const got = await retrying(() => txnAdmin.fetchOffsets({ groupId: group, topics: [topic] }), HEAL_TIMEOUT_MS);
    final.set(group, new Map(got[0]!.partitions.map((p) => [p.partition, Number(p.offset)])));
  }
  await txnAdmin.disconnect();
  const transactions = checkTransactions({ ends: txnEnds, readBack: txnReadBack, liveReads: txnLiveReads });
  const offsetCheck = checkCommittedOffsets({ commits, fetches, final });
  t.diagnostic(`transactions: committed ${transactions.committed}, aborted ${transactions.aborted}, unknown ${transactions.unknown} (${transactions.unknownCommitted} of them committed), lost ${transactions.lost.length}, torn ${transactions.torn.length}, aborted records seen ${transactions.abortedSeen.length}, duplicated ${transactions.duplicated.length}; read back ${transactions.recordsReadBack}, read live ${txnLiveReads.length}`);
  t.diagnostic(`committed offsets: ${offsetCheck.commits} commits acknowledged, ${offsetCheck.fetches} OffsetFetches after (re)joins, went backwards ${offsetCheck.backwards.length}; final ${JSON.stringify(offsetCheck.final)}`);
  phase('read-back');

  const check: CheckResult = checkHistory({ acks, log, endOffsets, otherReads: [...otherReads, ...aboveEnd], liveReads });
  // Every offset below the end must have been read by the KafkaJS read-back.
  for (const [p, end] of endOffsets) {
    const missing = Array.from({ length: end }, (_, o) => o).filter((o) => log.get(p)![o] === undefined);
    if (missing.length > 0) check.lost.push(`read-back did not return ${missing.length} offsets of partition ${p} below its end ${end} (first ${missing[0]})`);
  }
  const failovers: number[] = [];
  const byKind = new Map<string, number[]>();
  for (const e of events) {
    for (const p of e.led) {
      const per = failoverMs(acks, p, e.atMs);
      e.failover[String(p)] = Object.fromEntries(per);
      if (e.kind === 'kill') failovers.push(...per.values());
      let l = byKind.get(e.kind);
      if (l === undefined) byKind.set(e.kind, (l = []));
      l.push(...per.values());
    }
  }
  const failoverByKind = Object.fromEntries([...byKind].map(([k, v]) => [k, { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99), max: percentile(v, 100) }]));
  const report: FaultReport = {
    seed: opts.seed,
    schedule: schedule.map(describeFault),
    events,
    ...check,
    liveReads: liveReads.length,
    readBackLibrdkafka: otherReads.length,
    acknowledgedBy: Object.fromEntries(['kafkajs', 'librdkafka'].map((c) => [c, acks.filter((a) => a.client === c).length])),
    // The transactional producer handles fatal errors itself (a new instance; the outcome is
    // unknown and checked all-or-none): it died only if it exited with an error.
    // The librdkafka idempotent producer's fatal errors are its F lines (classified below);
    // its failed deliveries after one (E lines) are that instance's records, not another.
    fatalErrors: errors.filter((e) => /exited with|FATAL|Fatal error/.test(e) && !e.startsWith('txn ') && !e.startsWith('librdkafka E ')).slice(0, 5),
    txnFatal: errors.filter((e) => e.startsWith('txn ') && /FATAL/.test(e)).slice(0, 20),
    txnFatalUnexpected: errors.filter((e) => e.startsWith('txn ') && /FATAL/.test(e) && !EXPECTED_TXN_FATAL.test(e)).slice(0, 20),
    produceErrors: errors.length,
    failoverP50Ms: percentile(failovers, 50),
    failoverP99Ms: percentile(failovers, 99),
    failoverBoundMs: Math.max(2 * FAULT_TIMINGS.replicaLagTimeMaxMs, FAULT_TIMINGS.sessionTimeoutMs),
    failoverByKind,
    unavailableWindows: unavailableWindows(acks, UNAVAILABLE_THRESHOLD_MS),
    transactions,
    offsets: offsetCheck,
    duplicates: { broker: 0, unexplained: 0, clientEpochBump: 0 },
    clientEpochBumpDuplicates: [],
    librdkafkaOwnFatals: [],
    rdkDebugLog,
    txnLeaders,
    phases,
    durationMs: Date.now() - startedAt,
    runDir,
  };
  phase('check');
  for (const k of report.txnFatal) t.diagnostic(`transactional producer: fatal error, new instance: ${k}`);
  for (const k of report.txnFatalUnexpected) t.diagnostic(`transactional producer: UNEXPECTED fatal error: ${k}`);
  t.diagnostic(`phases (s): ${JSON.stringify(phases)}`);
  await cluster.close();
  // Duplicates by class, from the segment files of the stopped brokers and the producer's
  // debug log (dup-classify.ts); the librdkafka race's resent copies are then neither
  // duplicates nor reorderings for the checker.
  const classified = classifyDuplicates(log, readBatchHeaders(runDir, TOPIC, [...endOffsets.keys()]), existsSync(rdkDebugLog) ? readFileSync(rdkDebugLog, 'utf8') : undefined);
  if (classified.length > 0) {
    const again = checkHistory({ acks, log, endOffsets, otherReads: [...otherReads, ...aboveEnd], liveReads, explainedCopies: explainedCopies(classified) });
    const dups = duplicateReport(classified);
    check.duplicated = report.duplicated = dups.failing;
    check.reordered = report.reordered = again.reordered;
    report.duplicates = dups.counts;
    report.clientEpochBumpDuplicates = dups.clientRace;
    for (const d of dups.clientRace) t.diagnostic(`client epoch-bump duplicate (librdkafka race, docs/reliability.md): ${d}`);
  }
  const debugText = existsSync(rdkDebugLog) ? readFileSync(rdkDebugLog, 'utf8') : undefined;
  for (const f of rdkFatals) {
    const c = classifyRdkFatal(f, debugText, (topic, partition, producerId, epoch) => sequencesWritten(runDir, topic, partition, producerId, epoch));
    if (c.kind === 'client') report.librdkafkaOwnFatals.push(c.reason);
    else report.fatalErrors.push(`librdkafka idempotent producer: ${c.reason}`);
    t.diagnostic(`librdkafka producer fatal error (${c.kind === 'client' ? 'its own, docs/reliability.md; a new instance went on' : 'UNEXPLAINED'}): ${c.reason}`);
  }
  // A failover slower than the bound fails the test too: keep the logs that explain it.
  const slow = events.filter((e) => e.kind === 'kill' && Object.values(e.failover).some((per) => Object.values(per).some((ms) => ms > report.failoverBoundMs)));
  if (existsSync(rdkDebugLog)) t.diagnostic(`librdkafka producer debug log ${rdkDebugLog}: ${(statSync(rdkDebugLog).size / 1e6).toFixed(1)} MB`);
  // A run with client epoch-bump duplicates passes but keeps its directory: the evidence.
  const keep = report.duplicates.clientEpochBump > 0 || rdkFatals.length > 0;
  const failed = violations(check) > 0 || txnViolations(transactions) > 0 || report.txnFatalUnexpected.length > 0 || offsetCheck.backwards.length > 0 || slow.length > 0 || process.env['TRIBUTARY_FAULT_KEEP'] === '1';
  const reportFile = join(reportDir(), `${opts.name ?? 'run'}-seed-${opts.seed}-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(reportFile, JSON.stringify({ ...report, produceErrorExamples: errors.slice(0, 20) }, null, 2) + '\n');
  t.diagnostic(`report ${reportFile}: acknowledged ${report.acknowledged}, found ${report.found}, lost ${check.lost.length}, duplicated ${report.duplicates.broker} broker + ${report.duplicates.unexplained} unexplained + ${report.duplicates.clientEpochBump} client epoch-bump (librdkafka race), reordered ${check.reordered.length}, divergent ${check.divergent.length}; failover p50 ${report.failoverP50Ms} ms p99 ${report.failoverP99Ms} ms; ${report.unavailableWindows.length} unavailable windows`);
  if (failed || keep) {
    writeFileSync(join(runDir, 'history.json'), JSON.stringify({ acks, liveReads, otherReads, log: Object.fromEntries(log), endOffsets: Object.fromEntries(endOffsets), errors, txnEnds, txnLiveReads, txnReadBack, commits, fetches }) + '\n');
    t.diagnostic(`run ${failed ? 'FAILED' : 'passed with client epoch-bump duplicates or librdkafka fatal errors'}: data, broker logs, librdkafka debug log and history kept in ${runDir}`);
  } else {
    rmSync(runDir, { recursive: true, force: true });
  }
  return report;
}
