// The leader's side of RF=3 acks=all, alone (issue 15): an in-process 3-broker cluster
// whose two followers do not fetch on their own; this script plays their fetches by hand,
// as replica-fetcher.ts sends them (Fetch v12, every partition the leader leads, with
// currentLeaderEpoch and lastFetchedEpoch), so that each step is exactly: one acks=all
// Produce (6 partitions x one batch of 16 x 1 KiB, as bench/macro/replication.mjs), then one
// fetch from each follower, which moves the high watermark and answers the Produce.
// Besides the load's 6 partitions the leader leads 17 of __consumer_offsets (a third of 50,
// as in the macro bench), idle, which every follower fetch lists too.
//
// Figures: process CPU per step and per MB (one thread: the producer's and the followers'
// client work is in it too, the same in every build), so a change to the leader's produce
// or fetch path shows as a difference between two builds on the same machine.
//
//   node --conditions=source --import tsx bench/micro/leader-fetch.ts [--steps 3000] [--warmup 500] [--sessions]
//
// --sessions: the followers use incremental fetch sessions (KIP-227), naming only the
// partitions whose fetch offset moved, as a Kafka follower does.
// --idle: no Produce; a step is one fetch from each follower with nothing new anywhere:
// the fixed cost of a follower fetch (per partition listed, or per session).
import { ErrorCode, encodeBatchSync, readBatchHeader, type FetchRequest, type FetchResponse } from '@tributary/protocol';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { TestCluster } from '../../packages/broker/test/helpers/cluster.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

const { values: cli } = parseArgs({
  options: {
    steps: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '500' },
    partitions: { type: 'string', default: '6' },
    'offsets-partitions': { type: 'string', default: '17' },
    sessions: { type: 'boolean', default: false },
    idle: { type: 'boolean', default: false },
  },
});
const STEPS = Number(cli.steps);
const WARMUP = Number(cli.warmup);
const PARTITIONS = Number(cli.partitions);
const RECORD_BYTES = 1024;
const BATCH_RECORDS = 16;
const TOPIC = 'leader-fetch';
/** Generous: on a loaded shared machine a step can stall for seconds; this measures CPU, not time. */
const TIMEOUT_MS = 60_000;

interface Position {
  topic: string;
  partition: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
  leaderEpoch: number;
}

/** One follower's fetch state, and its session when --sessions. */
class Follower {
  sessionId = 0;
  sessionEpoch = cli.sessions ? 0 : -1;
  private readonly moved = new Set<Position>();

  constructor(readonly id: number, private readonly client: RawClient, private readonly positions: Position[]) {
    for (const p of positions) this.moved.add(p);
  }

  async fetch(): Promise<void> {
    const named = this.sessionEpoch > 0 ? [...this.moved] : this.positions;
    const byTopic = new Map<string, FetchRequest['topics'][number]>();
    for (const p of named) {
      let t = byTopic.get(p.topic);
      if (t === undefined) byTopic.set(p.topic, (t = { topic: p.topic, partitions: [] }));
      t.partitions.push({ partition: p.partition, currentLeaderEpoch: p.leaderEpoch, fetchOffset: p.fetchOffset, lastFetchedEpoch: p.lastFetchedEpoch, logStartOffset: 0, partitionMaxBytes: 1 << 20 });
    }
    this.moved.clear();
    const response: FetchResponse = await this.client.request('Fetch', 12, {
      replicaId: this.id, maxWaitMs: 0, minBytes: 1, maxBytes: 10 << 20, isolationLevel: 0,
      sessionId: this.sessionId, sessionEpoch: this.sessionEpoch, topics: [...byTopic.values()], forgottenTopicsData: [], rackId: '',
    }, { timeoutMs: TIMEOUT_MS });
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`fetch error ${response.errorCode}`);
    if (cli.sessions) {
      this.sessionId = response.sessionId ?? 0;
      this.sessionEpoch = this.sessionEpoch === 0x7fffffff ? 1 : this.sessionEpoch + 1;
    }
    for (const t of response.responses) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) throw new Error(`fetch error ${p.errorCode} on ${t.topic}-${p.partitionIndex}`);
        const records = p.records;
        if (records === null || records.length === 0) continue;
        const pos = this.positions.find((x) => x.topic === t.topic && x.partition === p.partitionIndex)!;
        let at = 0;
        while (at + 61 <= records.length) {
          const h = readBatchHeader(records, at);
          if (at + h.size > records.length) break;
          pos.fetchOffset = h.baseOffset + h.lastOffsetDelta + 1;
          pos.lastFetchedEpoch = h.partitionLeaderEpoch;
          at += h.size;
        }
        this.moved.add(pos);
      }
    }
  }
}

const cleanups: (() => unknown)[] = [];
try {
  const t = { after: (fn: () => unknown) => { cleanups.push(fn); } };
  const offsetsPartitions = Number(cli['offsets-partitions']);
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 600_000 }, offsetsPartitions > 0 ? { offsetsPartitions } : {});
  const producer = await RawClient.open(cluster.broker(1).port);
  cleanups.push(() => producer.close());
  const created = await producer.request('CreateTopics', 7, {
    topics: [{ name: TOPIC, numPartitions: -1, replicationFactor: -1, assignments: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [{ name: 'min.insync.replicas', value: '2' }] }],
    timeoutMs: 10_000, validateOnly: false,
  });
  if (created.topics[0]!.errorCode !== ErrorCode.NONE) throw new Error(`create: ${created.topics[0]!.errorCode}`);
  await new Promise((r) => setTimeout(r, 500));
  for (const id of [2, 3]) cluster.broker(id).services.replicaManager.pauseFetching();
  // Each follower starts at the leader's log end of every partition broker 1 leads.
  const followers: Follower[] = [];
  for (const id of [2, 3]) {
    const positions: Position[] = [];
    for (const name of [TOPIC, ...(offsetsPartitions > 0 ? ['__consumer_offsets'] : [])]) {
      const topic = cluster.metadata.topic(name)!;
      for (const p of topic.partitions) {
        if (p.leader !== 1) continue;
        const log = cluster.replica(1, name, p.partition).log;
        positions.push({ topic: name, partition: p.partition, fetchOffset: log.logEndOffset, lastFetchedEpoch: log.logEndOffset > 0 ? p.leaderEpoch : -1, leaderEpoch: p.leaderEpoch });
      }
    }
    const c = await RawClient.open(cluster.broker(1).port);
    cleanups.push(() => c.close());
    followers.push(new Follower(id, c, positions));
  }
  const value = Buffer.alloc(RECORD_BYTES, 0x61);
  const now = Date.now();
  const partitionData = Array.from({ length: PARTITIONS }, (_, index) => ({ index, records: encodeBatchSync({ baseOffset: 0, timestamp: now, records: Array.from({ length: BATCH_RECORDS }, () => ({ key: null, value, timestamp: now })) }) }));
  // Two producer connections in turn (RawClient has one request in flight): step i sends
  // Produce i, then each follower's fetch both reports the data of step i-1 (its fetch
  // offset moves past it: the high watermark follows and Produce i-1 is answered) and
  // takes the data of Produce i, as a follower in steady state does.
  const second = await RawClient.open(cluster.broker(1).port);
  cleanups.push(() => second.close());
  const producers = [producer, second];
  let pending: Promise<unknown> | undefined;
  const lastLog = cluster.replica(1, TOPIC, PARTITIONS - 1).log;
  let stepIndex = 0;
  const check = (r: Awaited<ReturnType<RawClient['request']>>) => {
    for (const p of (r as { responses: { partitionResponses: { errorCode: number }[] }[] }).responses[0]!.partitionResponses) if (p.errorCode !== ErrorCode.NONE) throw new Error(`produce error ${p.errorCode}`);
  };
  const step = cli.idle ? async () => { for (const f of followers) await f.fetch(); } : async () => {
    const produced = producers[stepIndex++ % 2]!.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData }] }, { timeoutMs: TIMEOUT_MS });
    // The leader has appended it (the last partition's log end moved) before the fetches.
    const end = lastLog.logEndOffset;
    while (lastLog.logEndOffset === end) await new Promise((r) => setImmediate(r));
    // A fetch may come back short (the connection's response memory budget, a large-read
    // turn): fetch again until the previous Produce is answered, rather than wait for it.
    let answered = pending === undefined;
    pending?.then(() => { answered = true; }, () => { answered = true; });
    do {
      for (const f of followers) await f.fetch();
      await new Promise((r) => setImmediate(r));
    } while (!answered);
    if (pending !== undefined) check((await pending) as never);
    pending = produced;
  };
  for (let i = 0; i < WARMUP; i++) await step();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) await step();
  const cpu = process.cpuUsage(cpu0);
  if (!cli.idle) {
    for (const f of followers) await f.fetch();
    check((await pending) as never);
  }
  const wallS = (performance.now() - t0) / 1000;
  const mb = (STEPS * PARTITIONS * BATCH_RECORDS * RECORD_BYTES) / 1e6;
  const perStepUs = (cpu.user + cpu.system) / STEPS;
  process.stdout.write(`${cli.sessions ? 'sessions' : 'sessionless'}${cli.idle ? ', idle' : ''}: ${STEPS} steps in ${wallS.toFixed(1)} s; CPU ${perStepUs.toFixed(0)} us per step (user ${(cpu.user / STEPS).toFixed(0)}, system ${(cpu.system / STEPS).toFixed(0)}), ${((cpu.user + cpu.system) / 1000 / mb).toFixed(2)} ms/MB; load ${loadavg()[0]!.toFixed(1)}\n`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
