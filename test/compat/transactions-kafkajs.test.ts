/**
 * KafkaJS 2.2.4 transactions against the broker (issue #17, coordinator side):
 * - init, produce to 3 partitions, sendOffsets, commit: every partition ends with a COMMIT
 *   marker after its records, and the group's offsets become visible; then an aborted
 *   transaction: ABORT markers, offsets unchanged;
 * - a second producer with the same transactional.id fences the first, whose next send fails;
 * - a transaction left open past its timeout is aborted by the coordinator;
 * - the coordinator's state survives kill -9 of the broker process.
 * Read-committed filtering is the log side's (txnstate branch); here the markers are checked
 * in the raw log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { ControlRecordType } from '@tributary/protocol';
import { describeTxn, logOf } from './txn-helpers.js';
import { freePort, spawnBroker, startTestBroker, tempDir, waitFor } from './kit.js';

test('KafkaJS: commit and abort over 3 partitions with sendOffsets; markers in every partition, offsets on commit only', { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'compat-txn', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'txn-out', numPartitions: 3 }, { topic: 'txn-in', numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: 'compat-kafkajs-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());

  const committed = await producer.transaction();
  for (const partition of [0, 1, 2]) await committed.send({ topic: 'txn-out', messages: [{ partition, value: `commit-${partition}` }] });
  await committed.sendOffsets({ consumerGroupId: 'txn-group', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '42' }] }] });
  await committed.commit();

  const offsets = () => admin.fetchOffsets({ groupId: 'txn-group', topics: ['txn-in'] });
  await waitFor('the transactional offset to be committed', 10_000, async () => ((await offsets())[0]!.partitions[0]!.offset === '42' ? true : undefined));
  for (const partition of [0, 1, 2]) {
    const entries = await waitFor(`the COMMIT marker in txn-out-${partition}`, 10_000, async () => {
      const e = await logOf(broker.port, 'txn-out', partition);
      return e.length === 2 ? e : undefined;
    });
    assert.deepEqual(entries.map((e) => [e.control, e.value]), [[null, `commit-${partition}`], [ControlRecordType.COMMIT, null]]);
  }

  const aborted = await producer.transaction();
  for (const partition of [0, 1, 2]) await aborted.send({ topic: 'txn-out', messages: [{ partition, value: `abort-${partition}` }] });
  await aborted.sendOffsets({ consumerGroupId: 'txn-group', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '99' }] }] });
  await aborted.abort();
  for (const partition of [0, 1, 2]) {
    const entries = await waitFor(`the ABORT marker in txn-out-${partition}`, 10_000, async () => {
      const e = await logOf(broker.port, 'txn-out', partition);
      return e.length === 4 ? e : undefined;
    });
    assert.deepEqual(entries.slice(2).map((e) => [e.control, e.value]), [[null, `abort-${partition}`], [ControlRecordType.ABORT, null]]);
  }
  const state = await waitFor('CompleteAbort', 10_000, async () => {
    const d = await describeTxn(broker.port, 'compat-kafkajs-txn');
    return d.transactionState === 'CompleteAbort' ? d : undefined;
  });
  assert.equal(state.errorCode, 0);
  assert.equal((await offsets())[0]!.partitions[0]!.offset, '42', 'an aborted transaction leaves the committed offset alone');
});

test('KafkaJS: a second producer with the same transactional.id fences the first', { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'compat-txn-fence', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'fence', numPartitions: 1 }], waitForLeaders: true });
  const first = kafka.producer({ transactionalId: 'compat-fenced', idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
  await first.connect();
  t.after(() => first.disconnect());
  const zombie = await first.transaction();
  await zombie.send({ topic: 'fence', messages: [{ value: 'zombie' }] });

  const second = kafka.producer({ transactionalId: 'compat-fenced', idempotent: true, maxInFlightRequests: 1 });
  await second.connect();
  t.after(() => second.disconnect());
  const fresh = await second.transaction();
  await fresh.send({ topic: 'fence', messages: [{ value: 'fresh' }] });
  await fresh.commit();

  // The zombie's transaction was aborted when the second producer initialized; anything it
  // does now is refused as fenced.
  await assert.rejects(zombie.commit(), (err: Error & { type?: string; retriable?: boolean }) => {
    assert.match(`${err.type} ${err.message}`, /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fenced|epoch/i);
    return true;
  });
  const entries = await waitFor('both markers', 10_000, async () => {
    const e = await logOf(broker.port, 'fence', 0);
    return e.filter((x) => x.control !== null).length === 2 ? e : undefined;
  });
  assert.deepEqual(entries.map((e) => [e.control, e.value]), [[null, 'zombie'], [ControlRecordType.ABORT, null], [null, 'fresh'], [ControlRecordType.COMMIT, null]]);
});

test('KafkaJS: the coordinator aborts a transaction left open past its timeout', { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker(t, { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 });
  const kafka = new Kafka({ clientId: 'compat-txn-timeout', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'slow', numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: 'compat-slow', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 1000, retry: { retries: 1 } });
  await producer.connect();
  t.after(() => producer.disconnect());
  const txn = await producer.transaction();
  await txn.send({ topic: 'slow', messages: [{ value: 'too-slow' }] });
  const d = await waitFor('the coordinator to abort the transaction', 15_000, async () => {
    const s = await describeTxn(broker.port, 'compat-slow');
    return s.transactionState === 'CompleteAbort' ? s : undefined;
  });
  assert.equal(d.producerEpoch, 1, 'the abort bumped the epoch, fencing the producer');
  assert.deepEqual((await logOf(broker.port, 'slow', 0)).map((e) => [e.control, e.value]), [[null, 'too-slow'], [ControlRecordType.ABORT, null]]);
  await assert.rejects(txn.commit());
});

test('KafkaJS: transaction state survives kill -9 of the broker', { timeout: 180_000 }, async (t) => {
  const dataDir = tempDir(t);
  const port = await freePort();
  let broker = await spawnBroker(t, { dataDir, port });
  const kafka = new Kafka({ clientId: 'compat-txn-kill', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kill', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ transactionalId: 'compat-kill', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const done = await producer.transaction();
  for (const partition of [0, 1, 2]) await done.send({ topic: 'kill', messages: [{ partition, value: `done-${partition}` }] });
  await done.commit();
  await waitFor('CompleteCommit', 10_000, async () => ((await describeTxn(port, 'compat-kill')).transactionState === 'CompleteCommit' ? true : undefined));
  const open = await producer.transaction();
  await open.send({ topic: 'kill', messages: [{ partition: 1, value: 'open' }] });
  const before = await describeTxn(port, 'compat-kill');
  assert.equal(before.transactionState, 'Ongoing');
  await broker.kill('SIGKILL');
  await producer.disconnect().catch(() => undefined);

  broker = await spawnBroker(t, { dataDir, port });
  const after = await describeTxn(port, 'compat-kill');
  assert.deepEqual([after.transactionState, after.producerId, after.producerEpoch, after.topics], ['Ongoing', before.producerId, before.producerEpoch, [{ topic: 'kill', partitions: [1] }]]);
  // A new instance fences the old one: the open transaction is aborted, the epoch moves on.
  const again = kafka.producer({ transactionalId: 'compat-kill', idempotent: true, maxInFlightRequests: 1 });
  await again.connect();
  t.after(() => again.disconnect());
  const next = await again.transaction();
  await next.send({ topic: 'kill', messages: [{ partition: 1, value: 'after' }] });
  await next.commit();
  const entries = await waitFor('the markers after the restart', 10_000, async () => {
    const e = await logOf(port, 'kill', 1);
    return e.length === 6 ? e : undefined;
  });
  assert.deepEqual(entries.map((e) => [e.control, e.value]), [
    [null, 'done-1'], [ControlRecordType.COMMIT, null], [null, 'open'], [ControlRecordType.ABORT, null], [null, 'after'], [ControlRecordType.COMMIT, null],
  ]);
  const final = await describeTxn(port, 'compat-kill');
  assert.equal(final.producerId, before.producerId);
  assert.ok(final.producerEpoch >= before.producerEpoch + 2, `epoch ${final.producerEpoch} after ${before.producerEpoch}`);
});
