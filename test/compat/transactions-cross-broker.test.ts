/**
 * Transactions across brokers (issue 17): in an in-process 3-broker cluster, RF=3, the
 * transaction coordinator (leader of `__transaction_state`) is broker 1, which leads no data
 * partition; the input and output partitions are led by brokers 2 and 3, and the group
 * coordinator (`__consumer_offsets`) by broker 3. So every marker goes to another broker in a
 * WriteTxnMarkers request, and every transactional produce is verified with the coordinator
 * by an AddPartitionsToTxn v5 verify_only from the partition leader.
 *
 * 1. Consume-transform-produce with aborts, confluent-kafka-python (test/compat/py/
 *    eos_transformer.py) and KafkaJS each into its own output topic: read_committed
 *    (confluent-kafka-python) sees every input exactly once in order per partition;
 *    read_uncommitted sees the aborted records too, and the raw logs hold ABORT and COMMIT
 *    markers written by the remote leaders.
 * 2. The coordinator's broker is closed between EndTxn(commit) and its markers (its marker
 *    writes are held back): the new coordinator loads PrepareCommit and writes COMMIT markers
 *    on both remote leaders. And a transaction left Ongoing when its coordinator closed is
 *    aborted by the new coordinator when it times out, ABORT markers on the remote leaders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType, encodeBatchSync, ErrorCode } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { TestCluster, waitFor } from '../../packages/broker/test/helpers/cluster.js';
import type { TestContext } from '../../packages/broker/test/helpers/broker.js';
import { logOf, type Entry } from './txn-helpers.js';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, run } from './kit.js';

const ALL = [1, 2, 3];
const PARTITIONS = 3;
const TOTAL = 150;
/** Leaders of the data partitions: never broker 1, the transaction coordinator. */
const DATA_LEADERS = [2, 3, 2];
const IN = 'xb-in';
const OUT_PY = 'xb-out-py';
const OUT_JS = 'xb-out-js';

async function startCluster(t: TestContext, config: Record<string, number> = {}): Promise<TestCluster> {
  const cluster = await TestCluster.start(t, 3, { 'transaction.state.log.num.partitions': 1, ...config }, { offsetsPartitions: 1 });
  const offsets = cluster.metadata.topic('__consumer_offsets')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: '__consumer_offsets', partition: 0, expectedPartitionEpoch: offsets.partitionEpoch, leader: 3, bumpLeaderEpoch: true });
  await cluster.metadata.createTopic({
    name: '__transaction_state',
    internal: true,
    configs: { 'cleanup.policy': 'compact', 'compression.type': 'uncompressed', 'min.insync.replicas': '2' },
    partitions: [{ replicas: ALL, leader: 1, isr: ALL }],
  });
  for (const name of [IN, OUT_PY, OUT_JS]) {
    await cluster.metadata.createTopic({ name, configs: {}, partitions: DATA_LEADERS.map((leader) => ({ replicas: [leader, ...ALL.filter((b) => b !== leader)], leader, isr: ALL })) });
  }
  await waitFor('broker 1 coordinates __transaction_state-0', 10_000, () => (cluster.broker(1).services.txnCoordinator.loadedPartitions().includes(0) ? true : undefined));
  return cluster;
}

function portOf(cluster: TestCluster, topic: string, partition: number): number {
  return cluster.broker(cluster.leaderOf(topic, partition)).port;
}

async function produceInput(cluster: TestCluster): Promise<void> {
  const kafka = new Kafka({ clientId: 'xb-input', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    const messages = Array.from({ length: TOTAL }, (_, i) => ({ key: String(i), value: String(i), partition: i % PARTITIONS }));
    await producer.send({ topic: IN, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** KafkaJS consume-transform-produce: one transaction per batch, every third one aborted and redone. */
async function kafkajsTransformer(t: TestContext, cluster: TestCluster): Promise<{ commits: number; aborts: number }> {
  const kafka = new Kafka({ clientId: 'xb-js', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer = kafka.producer({ transactionalId: 'xb-js-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());
  const consumer = kafka.consumer({ groupId: 'xb-js', readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: IN, fromBeginning: true });
  const next = new Map<number, number>();
  let n = 0;
  const stats = { commits: 0, aborts: 0 };
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, isStale }) => {
      if (isStale()) return;
      const partition = batch.partition;
      const from = next.get(partition) ?? 0;
      const messages = batch.messages.filter((m) => Number(m.offset) >= from).slice(0, 10);
      if (messages.length === 0) return;
      const end = Number(messages[messages.length - 1]!.offset) + 1;
      const txn = await producer.transaction();
      await txn.send({ topic: OUT_JS, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value, partition })) });
      await txn.sendOffsets({ consumerGroupId: 'xb-js', topics: [{ topic: IN, partitions: [{ partition, offset: String(end) }] }] });
      if (++n % 3 === 0) {
        await txn.abort();
        stats.aborts++;
        consumer.seek({ topic: IN, partition, offset: String(from) });
        return;
      }
      await txn.commit();
      stats.commits++;
      next.set(partition, end);
      resolveOffset(messages[messages.length - 1]!.offset);
      if ([...next.values()].reduce((a, b) => a + b, 0) >= TOTAL) resolveDone();
    },
  });
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`KafkaJS transformer stalled at ${JSON.stringify([...next])}`)), 60_000))]);
  await consumer.stop();
  return stats;
}

async function read(cluster: TestCluster, topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<[number, string][][]> {
  const r = await run(DEBIAN_PYTHON, [`${REPO_ROOT}/test/compat/py/eos_read.py`, cluster.bootstrap.join(','), topic, String(PARTITIONS), isolation], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `eos_read.py ${topic} ${isolation}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.toString().trim().split('\n').pop()!) as [number, string][][];
}

/** The inputs of a partition, in order. */
function inputsOf(partition: number): string[] {
  return Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % PARTITIONS === partition).map(String);
}

async function checkOutput(cluster: TestCluster, topic: string): Promise<void> {
  const committed = await read(cluster, topic, 'read_committed');
  const uncommitted = await read(cluster, topic, 'read_uncommitted');
  let aborted = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    assert.deepEqual(committed[p]!.map(([, v]) => v), inputsOf(p), `${topic}-${p}: read_committed holds every input exactly once, in order`);
    const log: Entry[] = await logOf(portOf(cluster, topic, p), topic, p);
    const data = log.filter((e) => e.control === null);
    const markers = log.filter((e) => e.control !== null);
    assert.ok(markers.some((e) => e.control === ControlRecordType.COMMIT), `${topic}-${p}: COMMIT markers from its remote leader`);
    // read_uncommitted: every data record of the log (aborted ones too), never a control record.
    assert.deepEqual(uncommitted[p]!.map(([, v]) => v), data.map((e) => e.value), `${topic}-${p}: read_uncommitted sees every data record`);
    // Offsets skip the control batches (one offset each).
    const lastOffset = uncommitted[p]!.at(-1)![0];
    assert.ok(lastOffset >= data.length + markers.length - 2, `${topic}-${p}: offsets leave room for the markers`);
    aborted += data.length - committed[p]!.length;
    if (markers.some((e) => e.control === ControlRecordType.ABORT)) assert.ok(data.length > committed[p]!.length);
  }
  assert.ok(aborted > 0, `${topic}: some records were aborted`);
}

test('consume-transform-produce across brokers: confluent-kafka-python and KafkaJS with aborts, markers written by remote leaders', { timeout: 180_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const cluster = await startCluster(t);
  await produceInput(cluster);
  const py = run(DEBIAN_PYTHON, [`${REPO_ROOT}/test/compat/py/eos_transformer.py`, cluster.bootstrap.join(','), IN, OUT_PY, 'xb-py', 'xb-py-txn', String(TOTAL), '17', '0.25', '10'], { timeoutMs: 120_000 });
  const js = await kafkajsTransformer(t, cluster);
  const pyResult = await py;
  assert.equal(pyResult.code, 0, `eos_transformer.py failed: ${pyResult.stderr.slice(-3000)}`);
  const pyStats = JSON.parse(pyResult.stdout.toString().trim().split('\n').pop()!) as Record<string, number>;
  assert.ok(pyStats['aborts']! > 0 && js.aborts > 0, `both transformers aborted transactions: ${JSON.stringify({ pyStats, js })}`);
  // No marker went through broker 1's own log: it leads no data partition.
  for (const topic of [IN, OUT_PY, OUT_JS]) for (let p = 0; p < PARTITIONS; p++) assert.notEqual(cluster.leaderOf(topic, p), 1);
  await checkOutput(cluster, OUT_PY);
  await checkOutput(cluster, OUT_JS);
  // Both groups' offsets, committed in transactions on broker 3's __consumer_offsets, cover the input.
  const c = await RawClient.open(cluster.broker(3).port);
  t.after(() => c.close());
  for (const group of ['xb-py', 'xb-js']) {
    const r = await c.request('OffsetFetch', 7, { groupId: group, topics: [{ name: IN, partitionIndexes: [0, 1, 2] }], requireStable: true });
    assert.deepEqual(r.topics![0]!.partitions.map((p) => p.committedOffset), [0, 1, 2].map((p) => inputsOf(p).length), `${group}: committed offsets at the end of the input`);
  }
});

// ---------------------------------------------------------------- the coordinator's broker goes away

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, value: string): Buffer {
  return encodeBatchSync({ producerId, producerEpoch, baseSequence, transactional: true, records: [{ key: null, value: Buffer.from(value) }] });
}

async function openTo(t: TestContext, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

/** InitProducerId, AddPartitionsToTxn for partitions 0 (leader 2) and 1 (leader 3), and one record in each. */
async function openTransaction(t: TestContext, cluster: TestCluster, transactionalId: string, timeoutMs: number): Promise<{ producerId: number; producerEpoch: number; coordinator: RawClient }> {
  const coordinator = await openTo(t, cluster, 1);
  const init = await coordinator.request('InitProducerId', 4, { transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  const { producerId, producerEpoch } = init;
  const added = await coordinator.request('AddPartitionsToTxn', 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: OUT_PY, partitions: [0, 1] }] });
  assert.deepEqual(added.resultsByTopicV3AndBelow![0]!.resultsByPartition.map((x) => x.partitionErrorCode), [ErrorCode.NONE, ErrorCode.NONE]);
  for (const partition of [0, 1]) {
    const leader = await openTo(t, cluster, cluster.leaderOf(OUT_PY, partition));
    const r = await leader.request('Produce', 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: OUT_PY, partitionData: [{ index: partition, records: txnBatch(producerId, producerEpoch, 0, `${transactionalId}-${partition}`) }] }] });
    assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, `transactional produce to broker ${cluster.leaderOf(OUT_PY, partition)}, verified by the coordinator on broker 1`);
  }
  return { producerId, producerEpoch, coordinator };
}

async function newCoordinator(cluster: TestCluster): Promise<number> {
  return waitFor('a new leader of __transaction_state-0', 15_000, () => {
    const l = cluster.leaderOf('__transaction_state', 0);
    return l > 1 ? l : undefined;
  });
}

async function waitForMarkers(cluster: TestCluster, transactionalId: string, type: number): Promise<void> {
  for (const partition of [0, 1]) {
    await waitFor(`${type === ControlRecordType.COMMIT ? 'COMMIT' : 'ABORT'} marker of ${transactionalId} on ${OUT_PY}-${partition}`, 20_000, async () => {
      const log = await logOf(portOf(cluster, OUT_PY, partition), OUT_PY, partition);
      const i = log.findIndex((e) => e.value === `${transactionalId}-${partition}`);
      return i >= 0 && log.slice(i + 1).some((e) => e.control === type) ? true : undefined;
    });
  }
}

test('the coordinator\'s broker closes mid-transaction: the new coordinator writes the markers on the remote leaders', { timeout: 90_000 }, async (t) => {
  const cluster = await startCluster(t, { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 });

  // Committed, but broker 1 never gets to send its markers (they are held back), then closes.
  const committing = await openTransaction(t, cluster, 'xb-commit', 60_000);
  const held = (cluster.broker(1).services.txnCoordinator as unknown as { markers: { write: (m: unknown) => Promise<number[]> } }).markers;
  held.write = () => new Promise<number[]>(() => {});
  const end = await committing.coordinator.request('EndTxn', 3, { transactionalId: 'xb-commit', producerId: committing.producerId, producerEpoch: committing.producerEpoch, committed: true });
  assert.equal(end.errorCode, ErrorCode.NONE);
  // Left Ongoing on broker 1, with a short timeout: the next coordinator aborts it.
  await openTransaction(t, cluster, 'xb-ongoing', 1500);
  await cluster.stopBroker(1);

  const next = await newCoordinator(cluster);
  await waitForMarkers(cluster, 'xb-commit', ControlRecordType.COMMIT);
  await waitForMarkers(cluster, 'xb-ongoing', ControlRecordType.ABORT);
  const c = await openTo(t, cluster, next);
  const states = await c.request('DescribeTransactions', 0, { transactionalIds: ['xb-commit', 'xb-ongoing'] });
  await waitFor('both transactions complete on the new coordinator', 10_000, async () => {
    const s = await c.request('DescribeTransactions', 0, { transactionalIds: ['xb-commit', 'xb-ongoing'] });
    return s.transactionStates.map((x) => x.transactionState).join() === 'CompleteCommit,CompleteAbort' ? true : undefined;
  });
  assert.equal(states.transactionStates.length, 2);
  // read_committed on both leaders: the committed record is there, the aborted one is not, and
  // the last stable offset is past both transactions.
  for (const partition of [0, 1]) {
    const leader = await openTo(t, cluster, cluster.leaderOf(OUT_PY, partition));
    const r = await leader.request('Fetch', 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: OUT_PY, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const p = r.responses[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.equal(p.lastStableOffset, p.highWatermark, `${OUT_PY}-${partition}: no open transaction holds the LSO back`);
    assert.equal(p.abortedTransactions?.length, 1, `${OUT_PY}-${partition}: the aborted transaction is listed for read_committed`);
  }
});

test('transactions v2 across brokers: Produce v12 and TxnOffsetCommit v5 on other brokers add their partitions through the coordinator; EndTxn v5 markers reach them with the bumped epoch', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(t);
  const coordinator = await openTo(t, cluster, 1);
  const init = await coordinator.request('InitProducerId', 5, { transactionalId: 'xb-tv2', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  const { producerId, producerEpoch } = init;
  for (const partition of [0, 1]) {
    const leader = await openTo(t, cluster, cluster.leaderOf(OUT_JS, partition));
    const r = await leader.request('Produce', 12, { transactionalId: 'xb-tv2', acks: -1, timeoutMs: 5000, topicData: [{ name: OUT_JS, partitionData: [{ index: partition, records: txnBatch(producerId, producerEpoch, 0, `xb-tv2-${partition}`) }] }] });
    assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, `Produce v12 on broker ${cluster.leaderOf(OUT_JS, partition)}`);
  }
  const groups = await openTo(t, cluster, 3);
  const offsets = await groups.request('TxnOffsetCommit', 5, {
    transactionalId: 'xb-tv2', groupId: 'xb-tv2-group', producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: IN, partitions: [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(offsets.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE, 'TxnOffsetCommit v5 on broker 3');
  const described = await coordinator.request('DescribeTransactions', 0, { transactionalIds: ['xb-tv2'] });
  assert.deepEqual(described.transactionStates[0]!.topics.map((x) => [x.topic, x.partitions]).sort(), [['__consumer_offsets', [0]], [OUT_JS, [0, 1]]]);
  const end = await coordinator.request('EndTxn', 5, { transactionalId: 'xb-tv2', producerId, producerEpoch, committed: true });
  assert.deepEqual([end.errorCode, end.producerEpoch], [ErrorCode.NONE, producerEpoch + 1]);
  for (const partition of [0, 1]) {
    await waitFor(`the COMMIT marker on ${OUT_JS}-${partition}`, 10_000, async () => {
      const log = await logOf(portOf(cluster, OUT_JS, partition), OUT_JS, partition);
      return log.some((e) => e.control === ControlRecordType.COMMIT) ? true : undefined;
    });
  }
  await waitFor('the offset committed on broker 3', 10_000, async () => {
    const r = await groups.request('OffsetFetch', 7, { groupId: 'xb-tv2-group', topics: [{ name: IN, partitionIndexes: [0] }], requireStable: true });
    return r.topics![0]!.partitions[0]!.committedOffset === 3 ? true : undefined;
  });
});
