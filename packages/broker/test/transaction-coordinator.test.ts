// The transaction coordinator as pure logic: an in-memory __transaction_state, a marker
// writer that records what it is asked, a clock the test moves. Covers what the wire cannot
// reach yet (transactions v2 EndTxn, epoch exhaustion) and the bookkeeping (records in
// Kafka's format, concurrent requests, transactional id expiry, replay).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTransactionLogRecord, ErrorCode } from '@tributary/protocol';
import { silentLogger } from '../src/logger.js';
import { TransactionCoordinator } from '../src/transaction/transaction-coordinator.js';
import type { TxnMarker, TxnMarkerWriter } from '../src/transaction/marker-writer.js';
import { PRODUCER_EPOCH_EXHAUSTED, TxnState } from '../src/transaction/transaction-metadata.js';
import { MemoryCoordinatorLog } from './helpers/memory-coordinator-log.js';

class RecordingMarkers implements TxnMarkerWriter {
  readonly written: TxnMarker[] = [];
  async write(marker: TxnMarker): Promise<number[]> {
    this.written.push(marker);
    return marker.partitions.map(() => ErrorCode.NONE);
  }
}

function harness(options: { numPartitions?: number; idExpirationMs?: number } = {}) {
  const log = new MemoryCoordinatorLog();
  const markers = new RecordingMarkers();
  const clock = { now: 1_700_000_000_000 };
  let nextId = 1000;
  const numPartitions = options.numPartitions ?? 1;
  const make = () => new TransactionCoordinator({
    config: { numPartitions, maxTimeoutMs: 900_000, idExpirationMs: options.idExpirationMs ?? 604_800_000, abortTimedOutIntervalMs: 3_600_000, removeExpiredIntervalMs: 3_600_000 },
    log,
    markers,
    nextProducerId: async () => nextId++,
    ownedPartitions: () => Array.from({ length: numPartitions }, (_, i) => i),
    coordinatorEpoch: () => 7,
    topicExists: () => true,
    createTopic: async () => undefined,
    logger: silentLogger,
    now: () => clock.now,
  });
  return { log, markers, clock, make };
}

async function started(h: ReturnType<typeof harness>, t: { after(fn: () => unknown): void }): Promise<TransactionCoordinator> {
  const c = h.make();
  await c.startup();
  t.after(() => c.shutdown());
  return c;
}

test('records are Kafka TransactionLogValue v0 with the state byte; the last one survives a replay', async (t) => {
  const h = harness();
  const c = await started(h, t);
  const init = await c.initProducerId('tx', 30_000, null);
  assert.deepEqual(init, { errorCode: 0, producerId: 1000, producerEpoch: 0 });
  assert.equal(await c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 1 }, { topic: 'a', partition: 0 }]), ErrorCode.NONE);
  const records = h.log.records(0).map((r) => decodeTransactionLogRecord(r.key, r.value));
  assert.deepEqual(records.map((r) => [r.key.transactionalId, r.valueVersion, r.value!.transactionStatus, r.value!.producerEpoch]), [['tx', 0, TxnState.Empty, 0], ['tx', 0, TxnState.Ongoing, 0]]);
  assert.deepEqual(records[0]!.value!.transactionPartitions, null);
  assert.deepEqual(records[1]!.value!.transactionPartitions, [{ topic: 'a', partitionIds: [0, 1] }]);
  assert.equal(records[1]!.value!.transactionStartTimestampMs, h.clock.now);

  const again = h.make();
  await again.startup();
  t.after(() => again.shutdown());
  const m = again.get('tx')!;
  assert.deepEqual([m.state, m.producerId, m.producerEpoch, m.txnTimeoutMs, [...m.partitions.get('a')!]], [TxnState.Ongoing, 1000, 0, 30_000, [0, 1]]);
});

test('a request while a state change is being written gets CONCURRENT_TRANSACTIONS', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 30_000, null);
  h.log.holdAppends();
  const adding = c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]);
  assert.equal(await c.addPartitions('tx', 1000, 0, [{ topic: 'b', partition: 0 }]), ErrorCode.CONCURRENT_TRANSACTIONS);
  assert.equal((await c.endTransaction('tx', 1000, 0, true, false)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  h.log.releaseAppends();
  assert.equal(await adding, ErrorCode.NONE);
  assert.equal(await c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.NONE);
  assert.equal(await c.addPartitions('tx', 999, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  assert.equal(await c.addPartitions('nobody', 1000, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
});

test('a failed write leaves the state as it was and maps the error as Kafka does', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 30_000, null);
  h.log.failNextAppends(1, Object.assign(new Error('not leader'), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }));
  assert.equal(await c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.NOT_COORDINATOR);
  assert.equal(c.get('tx')!.state, TxnState.Empty);
  assert.equal(c.get('tx')!.pendingState, null);
});

test('transactions v2 (EndTxn v5): the epoch is bumped with Prepare, markers carry it, a retry gets the same answer', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 30_000, null);
  await c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]);
  const end = await c.endTransaction('tx', 1000, 0, true, true);
  assert.deepEqual(end, { errorCode: 0, producerId: 1000, producerEpoch: 1 });
  await c.idle();
  assert.deepEqual(h.markers.written.map((m) => [m.producerEpoch, m.commit, m.coordinatorEpoch, m.partitions]), [[1, true, 7, [{ topic: 'a', partition: 0 }]]]);
  assert.equal(c.get('tx')!.state, TxnState.CompleteCommit);
  // The retry of the same EndTxn (old epoch) succeeds with the new epoch; the other result is fenced.
  assert.deepEqual(await c.endTransaction('tx', 1000, 0, true, true), { errorCode: 0, producerId: 1000, producerEpoch: 1 });
  assert.equal((await c.endTransaction('tx', 1000, 0, false, true)).errorCode, ErrorCode.PRODUCER_FENCED);
  // v2 may abort an empty transaction: it still bumps the epoch.
  assert.deepEqual(await c.endTransaction('tx', 1000, 1, false, true), { errorCode: 0, producerId: 1000, producerEpoch: 2 });
  // v1 may not end an empty transaction.
  await c.idle();
  assert.equal((await c.endTransaction('tx', 1000, 2, true, false)).errorCode, ErrorCode.INVALID_TXN_STATE);
});

test('an exhausted epoch rotates to a new producer id; a retry of that InitProducerId gets the same answer', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 30_000, null);
  const m = c.get('tx')!;
  m.producerEpoch = PRODUCER_EPOCH_EXHAUSTED;
  const rotated = await c.initProducerId('tx', 30_000, { producerId: 1000, producerEpoch: PRODUCER_EPOCH_EXHAUSTED });
  assert.deepEqual(rotated, { errorCode: 0, producerId: 1001, producerEpoch: 0 });
  const retried = await c.initProducerId('tx', 30_000, { producerId: 1000, producerEpoch: PRODUCER_EPOCH_EXHAUSTED });
  assert.deepEqual(retried, { errorCode: 0, producerId: 1001, producerEpoch: 0 });
  assert.equal((await c.initProducerId('tx', 30_000, { producerId: 1000, producerEpoch: 5 })).errorCode, ErrorCode.PRODUCER_FENCED);
});

test('transactional ids unused past transactional.id.expiration.ms are tombstoned; ongoing ones are kept', async (t) => {
  const h = harness({ idExpirationMs: 1000 });
  const c = await started(h, t);
  await c.initProducerId('idle', 30_000, null);
  await c.initProducerId('busy', 30_000, null);
  await c.addPartitions('busy', 1001, 0, [{ topic: 'a', partition: 0 }]);
  h.clock.now += 1001;
  assert.equal(await c.removeExpiredTransactionalIds(), 1);
  assert.equal(c.get('idle'), undefined);
  assert.ok(c.get('busy') !== undefined);
  const last = h.log.records(0).at(-1)!;
  assert.equal(last.value, null);
  assert.equal(decodeTransactionLogRecord(last.key, null).key.transactionalId, 'idle');
  // A new InitProducerId starts over with a new producer id.
  assert.deepEqual(await c.initProducerId('idle', 30_000, null), { errorCode: 0, producerId: 1002, producerEpoch: 0 });
});

test('timed-out transactions are aborted with the epoch bumped; the owner is fenced', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 1000, null);
  await c.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]);
  assert.equal(c.abortTimedOutTransactions(), 0);
  h.clock.now += 1001;
  assert.equal(c.abortTimedOutTransactions(), 1);
  await c.idle();
  assert.deepEqual(h.markers.written.map((m) => [m.producerEpoch, m.commit]), [[1, false]]);
  assert.deepEqual([c.get('tx')!.state, c.get('tx')!.producerEpoch], [TxnState.CompleteAbort, 1]);
  assert.equal((await c.endTransaction('tx', 1000, 0, true, false)).errorCode, ErrorCode.PRODUCER_FENCED);
});

test('the coordinator partition of an id is Kafka\'s abs(hashCode) % partitions', async (t) => {
  const h = harness({ numPartitions: 50 });
  const c = await started(h, t);
  // Java: "my-txn".hashCode() = -1061187895; Kafka takes it & 0x7fffffff, then % 50.
  assert.equal(c.partitionFor('my-txn'), (-1061187895 & 0x7fffffff) % 50);
});

test('unloading a partition drops its ids (NOT_COORDINATOR); loading it again restores them from the log', async (t) => {
  const h = harness();
  const c = await started(h, t);
  await c.initProducerId('tx', 30_000, null);
  c.unloadPartition(0);
  assert.equal(c.get('tx'), undefined);
  assert.equal((await c.initProducerId('tx', 30_000, null)).errorCode, ErrorCode.NOT_COORDINATOR);
  await c.loadPartition(0);
  assert.deepEqual(await c.initProducerId('tx', 30_000, null), { errorCode: 0, producerId: 1000, producerEpoch: 1 });
});
