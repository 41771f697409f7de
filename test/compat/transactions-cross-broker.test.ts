/**
 * Transactions across brokers with real clients (issue 17), in the in-process 3-broker cluster
 * of txn-cluster.ts: the transaction coordinator (leader of `__transaction_state`) is broker 1,
 * which leads no data partition; the input and output partitions are led by brokers 2 and 3,
 * and the group coordinator (`__consumer_offsets`) by broker 3. So every marker goes to
 * another broker in a WriteTxnMarkers request, and every transactional produce is verified
 * with the coordinator by an AddPartitionsToTxn v5 verify_only from the partition leader.
 *
 * Consume-transform-produce with aborts, confluent-kafka-python (test/compat/py/
 * eos_transformer.py) and KafkaJS each into its own output topic: read_committed
 * (confluent-kafka-python) sees every input exactly once in order per partition;
 * read_uncommitted sees the aborted records too, and the raw logs hold ABORT and COMMIT
 * markers written by the remote leaders. Failover and transactions v2 across brokers:
 * transactions-cross-broker-failover.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import type { TestCluster } from '../../packages/broker/test/helpers/cluster.js';
import type { TestContext } from '../../packages/broker/test/helpers/broker.js';
import { logOf, type Entry } from './txn-helpers.js';
import { IN, OUT_JS, OUT_PY, PARTITIONS, portOf, startCluster } from './txn-cluster.js';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, run } from './kit.js';

const TOTAL = 150;

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
