// The transaction APIs over a real socket with raw requests: FindCoordinator(TRANSACTION),
// InitProducerId with a transactional id, AddPartitionsToTxn (v3 and v4+ verify_only),
// transactional Produce with KIP-890 verification, EndTxn, markers in the partitions' logs,
// fencing, DescribeTransactions / ListTransactions, coordinator-driven timeouts, and the
// state surviving a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlRecordType, decodeBatchSync, decodeControlRecordKey, encodeBatchSync, ErrorCode, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { startBroker, createLogger, type RunningBroker } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';
import { createTopic, fetchPartition, startBrokerWithClient } from './helpers/broker.js';

interface Batch { producerId: number; producerEpoch: number; isControl: boolean; isTransactional: boolean; controlType: number | null; values: string[] }

async function batchesOf(client: RawClient, topic: string, partition: number): Promise<Batch[]> {
  const r = await fetchPartition(client, 12, topic, partition);
  const records = r.responses[0]!.partitions[0]!.records;
  const out: Batch[] = [];
  if (records === null) return out;
  forEachBatch(records, (at, size) => {
    const h = readBatchHeader(records, at);
    const { records: rs } = decodeBatchSync(records.subarray(at, at + size));
    out.push({
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      isControl: h.isControl,
      isTransactional: h.isTransactional,
      controlType: h.isControl ? decodeControlRecordKey(rs[0]!.key).type : null,
      values: h.isControl ? [] : rs.map((x) => x.value!.toString()),
    });
  });
  return out;
}

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, value: string): Buffer {
  return encodeBatchSync({ producerId, producerEpoch, baseSequence, transactional: true, records: [{ key: null, value: Buffer.from(value) }] });
}

async function produceTxn(client: RawClient, transactionalId: string, topic: string, partition: number, records: Buffer): Promise<number> {
  const r = await client.request('Produce', 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

async function init(client: RawClient, transactionalId: string, timeoutMs = 60_000): Promise<{ producerId: number; producerEpoch: number }> {
  // As clients do: find the coordinator first (the first lookup creates __transaction_state).
  assert.equal((await client.request('FindCoordinator', 3, { key: transactionalId, keyType: 1 })).errorCode, ErrorCode.NONE);
  for (;;) {
    const r = await client.request('InitProducerId', 4, { transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1, producerEpoch: -1 });
    if (r.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS) {
      await new Promise((res) => setTimeout(res, 20));
      continue;
    }
    assert.equal(r.errorCode, ErrorCode.NONE);
    return { producerId: r.producerId, producerEpoch: r.producerEpoch };
  }
}

async function addPartitions(client: RawClient, transactionalId: string, p: { producerId: number; producerEpoch: number }, topic: string, partitions: number[], version = 3): Promise<number[]> {
  const r = await client.request('AddPartitionsToTxn', version, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.producerEpoch, v3AndBelowTopics: [{ name: topic, partitions }] });
  return r.resultsByTopicV3AndBelow![0]!.resultsByPartition.map((x) => x.partitionErrorCode);
}

async function describe(client: RawClient, transactionalId: string) {
  const r = await client.request('DescribeTransactions', 0, { transactionalIds: [transactionalId] });
  return r.transactionStates[0]!;
}

async function waitState(client: RawClient, transactionalId: string, state: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await describe(client, transactionalId);
    if (d.transactionState === state) return d;
    if (Date.now() > deadline) throw new Error(`${transactionalId} is ${d.transactionState}, expected ${state}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

test('FindCoordinator(TRANSACTION) creates __transaction_state on first use and finds this broker; an empty id is INVALID_REQUEST', async (t) => {
  const { broker, client } = await startBrokerWithClient(t, 'txn-find');
  assert.equal(broker.services.metadata.topic('__transaction_state'), undefined);
  // Before any lookup, the coordinator is not there yet (clients look it up first).
  const early = await client.request('InitProducerId', 4, { transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(early.errorCode, ErrorCode.NOT_COORDINATOR);
  const v2 = await client.request('FindCoordinator', 2, { key: 'tx', keyType: 1 });
  assert.deepEqual([v2.errorCode, v2.nodeId, v2.port], [ErrorCode.NONE, broker.nodeId, broker.port]);
  const v4 = await client.request('FindCoordinator', 4, { keyType: 1, coordinatorKeys: ['tx', ''] });
  assert.deepEqual(v4.coordinators!.map((c) => c.errorCode), [ErrorCode.NONE, ErrorCode.INVALID_REQUEST]);
  assert.equal(broker.services.metadata.topic('__transaction_state')!.partitions.length, 50);
});

test('commit and abort write markers to every partition; DescribeTransactions and ListTransactions follow the states', async (t) => {
  const { client } = await startBrokerWithClient(t, 'txn-commit');
  await createTopic(client, 'out', {}, 3);
  const p = await init(client, 'tx-1');
  assert.equal(p.producerEpoch, 0);
  assert.deepEqual(await addPartitions(client, 'tx-1', p, 'out', [0, 1, 2]), [0, 0, 0]);
  const d = await describe(client, 'tx-1');
  assert.equal(d.transactionState, 'Ongoing');
  assert.deepEqual(d.topics, [{ topic: 'out', partitions: [0, 1, 2] }]);
  for (const part of [0, 1, 2]) assert.equal(await produceTxn(client, 'tx-1', 'out', part, txnBatch(p.producerId, p.producerEpoch, 0, `c${part}`)), ErrorCode.NONE);
  const end = await client.request('EndTxn', 3, { transactionalId: 'tx-1', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true });
  assert.equal(end.errorCode, ErrorCode.NONE);
  await waitState(client, 'tx-1', 'CompleteCommit');
  for (const part of [0, 1, 2]) {
    const batches = await batchesOf(client, 'out', part);
    assert.deepEqual(batches.map((b) => [b.isTransactional, b.isControl, b.controlType, b.values]), [[true, false, null, [`c${part}`]], [true, true, ControlRecordType.COMMIT, []]]);
    assert.equal(batches[1]!.producerId, p.producerId);
  }
  // A retried commit is fine; an abort of the committed transaction is not.
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-1', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true })).errorCode, ErrorCode.NONE);
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-1', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: false })).errorCode, ErrorCode.INVALID_TXN_STATE);

  // The next transaction, aborted.
  assert.deepEqual(await addPartitions(client, 'tx-1', p, 'out', [1]), [0]);
  assert.equal(await produceTxn(client, 'tx-1', 'out', 1, txnBatch(p.producerId, p.producerEpoch, 1, 'a1')), ErrorCode.NONE);
  const list = await client.request('ListTransactions', 1, { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [], durationFilter: -1 });
  assert.deepEqual(list.unknownStateFilters, ['Bogus']);
  assert.deepEqual(list.transactionStates, [{ transactionalId: 'tx-1', producerId: p.producerId, transactionState: 'Ongoing' }]);
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-1', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: false })).errorCode, ErrorCode.NONE);
  await waitState(client, 'tx-1', 'CompleteAbort');
  const p1 = await batchesOf(client, 'out', 1);
  assert.deepEqual(p1.slice(2).map((b) => [b.isControl, b.controlType, b.values]), [[false, null, ['a1']], [true, ControlRecordType.ABORT, []]]);
  // Ending with no transaction is INVALID_TXN_STATE.
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-1', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true })).errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.equal((await describe(client, 'nobody')).errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
});

test('KIP-890: a transactional batch for a partition outside the transaction is refused with INVALID_TXN_STATE; verify_only answers per partition', async (t) => {
  const { client } = await startBrokerWithClient(t, 'txn-verify');
  await createTopic(client, 'v', {}, 2);
  const p = await init(client, 'tx-v');
  // No transaction yet: nothing may be appended (a late batch would hang the partition's LSO).
  assert.equal(await produceTxn(client, 'tx-v', 'v', 0, txnBatch(p.producerId, p.producerEpoch, 0, 'x')), ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(await addPartitions(client, 'tx-v', p, 'v', [0]), [0]);
  assert.equal(await produceTxn(client, 'tx-v', 'v', 1, txnBatch(p.producerId, p.producerEpoch, 0, 'x')), ErrorCode.INVALID_TXN_STATE);
  const refused = await client.request('Produce', 9, { transactionalId: 'tx-v', acks: -1, timeoutMs: 5000, topicData: [{ name: 'v', partitionData: [{ index: 1, records: txnBatch(p.producerId, p.producerEpoch, 0, 'x') }] }] });
  assert.equal(refused.responses[0]!.partitionResponses[0]!.errorMessage, 'Partition was not added to the transaction');
  assert.equal(await produceTxn(client, 'tx-v', 'v', 0, txnBatch(p.producerId, p.producerEpoch, 0, 'y')), ErrorCode.NONE);
  assert.deepEqual((await batchesOf(client, 'v', 1)).length, 0);
  // A transactional batch without a transactional id in the request: the whole request fails.
  const anonymous = await client.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'v', partitionData: [{ index: 0, records: txnBatch(p.producerId, p.producerEpoch, 1, 'z') }] }] });
  assert.equal(anonymous.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const r = await client.request('AddPartitionsToTxn', 4, { transactions: [
    { transactionalId: 'tx-v', producerId: p.producerId, producerEpoch: p.producerEpoch, verifyOnly: true, topics: [{ name: 'v', partitions: [0, 1] }] },
    { transactionalId: 'tx-v', producerId: p.producerId, producerEpoch: p.producerEpoch + 1, verifyOnly: true, topics: [{ name: 'v', partitions: [0] }] },
  ] });
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(r.resultsByTransaction!.map((x) => x.topicResults[0]!.resultsByPartition.map((y) => y.partitionErrorCode)), [[ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE], [ErrorCode.PRODUCER_FENCED]]);
  // Unknown partitions: UNKNOWN_TOPIC_OR_PARTITION for them, OPERATION_NOT_ATTEMPTED for the rest.
  const unknown = await client.request('AddPartitionsToTxn', 3, { v3AndBelowTransactionalId: 'tx-v', v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.producerEpoch, v3AndBelowTopics: [{ name: 'v', partitions: [1, 7] }] });
  assert.deepEqual(unknown.resultsByTopicV3AndBelow![0]!.resultsByPartition.map((x) => x.partitionErrorCode), [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
});

test('a second InitProducerId fences the first producer: its ongoing transaction is aborted with a bumped epoch', async (t) => {
  const { client } = await startBrokerWithClient(t, 'txn-fence');
  await createTopic(client, 'f', {}, 1);
  const first = await init(client, 'tx-f');
  assert.deepEqual(await addPartitions(client, 'tx-f', first, 'f', [0]), [0]);
  assert.equal(await produceTxn(client, 'tx-f', 'f', 0, txnBatch(first.producerId, first.producerEpoch, 0, 'zombie')), ErrorCode.NONE);
  const again = await client.request('InitProducerId', 4, { transactionalId: 'tx-f', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(again.errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  const second = await init(client, 'tx-f');
  assert.equal(second.producerId, first.producerId);
  assert.equal(second.producerEpoch, first.producerEpoch + 2);
  const batches = await batchesOf(client, 'f', 0);
  assert.deepEqual(batches.map((b) => [b.isControl, b.controlType, b.producerEpoch]), [[false, null, 0], [true, ControlRecordType.ABORT, 1]]);
  // The zombie is fenced everywhere (INVALID_PRODUCER_EPOCH below the versions that know PRODUCER_FENCED).
  const v3 = await addPartitions(client, 'tx-f', first, 'f', [0], 3);
  assert.deepEqual(v3, [ErrorCode.PRODUCER_FENCED]);
  const v1 = await addPartitions(client, 'tx-f', first, 'f', [0], 1);
  assert.deepEqual(v1, [ErrorCode.INVALID_PRODUCER_EPOCH]);
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-f', producerId: first.producerId, producerEpoch: first.producerEpoch, committed: true })).errorCode, ErrorCode.PRODUCER_FENCED);
  assert.equal((await client.request('EndTxn', 1, { transactionalId: 'tx-f', producerId: first.producerId, producerEpoch: first.producerEpoch, committed: true })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal(await produceTxn(client, 'tx-f', 'f', 0, txnBatch(first.producerId, first.producerEpoch, 1, 'late')), ErrorCode.INVALID_PRODUCER_EPOCH);
  // KIP-360: a recovery with the current id and epoch bumps it; a stale one is fenced.
  const recovered = await client.request('InitProducerId', 4, { transactionalId: 'tx-f', transactionTimeoutMs: 60_000, producerId: second.producerId, producerEpoch: second.producerEpoch });
  assert.deepEqual([recovered.errorCode, recovered.producerEpoch], [ErrorCode.NONE, second.producerEpoch + 1]);
  const retried = await client.request('InitProducerId', 4, { transactionalId: 'tx-f', transactionTimeoutMs: 60_000, producerId: second.producerId, producerEpoch: second.producerEpoch });
  assert.deepEqual([retried.errorCode, retried.producerEpoch], [ErrorCode.NONE, second.producerEpoch + 1]);
  const stale = await client.request('InitProducerId', 4, { transactionalId: 'tx-f', transactionTimeoutMs: 60_000, producerId: first.producerId, producerEpoch: first.producerEpoch });
  assert.equal(stale.errorCode, ErrorCode.PRODUCER_FENCED);
  const staleV3 = await client.request('InitProducerId', 3, { transactionalId: 'tx-f', transactionTimeoutMs: 60_000, producerId: first.producerId, producerEpoch: first.producerEpoch });
  assert.equal(staleV3.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  const tooLong = await client.request('InitProducerId', 4, { transactionalId: 'tx-f', transactionTimeoutMs: 900_001, producerId: -1, producerEpoch: -1 });
  assert.equal(tooLong.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
});

async function startOn(dir: string, config: Record<string, number> = {}): Promise<{ broker: RunningBroker; client: RawClient }> {
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }), config });
  const client = await RawClient.open(broker.port);
  return { broker, client };
}

test('the coordinator aborts a transaction older than its timeout and fences its producer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-txn-timeout-'));
  const { broker, client } = await startOn(dir, { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 100 });
  t.after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await createTopic(client, 'to', {}, 1);
  const p = await init(client, 'tx-t', 300);
  assert.deepEqual(await addPartitions(client, 'tx-t', p, 'to', [0]), [0]);
  assert.equal(await produceTxn(client, 'tx-t', 'to', 0, txnBatch(p.producerId, p.producerEpoch, 0, 'slow')), ErrorCode.NONE);
  const d = await waitState(client, 'tx-t', 'CompleteAbort', 5000);
  assert.equal(d.producerEpoch, p.producerEpoch + 1);
  const batches = await batchesOf(client, 'to', 0);
  assert.deepEqual(batches.map((b) => [b.isControl, b.controlType]), [[false, null], [true, ControlRecordType.ABORT]]);
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-t', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true })).errorCode, ErrorCode.PRODUCER_FENCED);
});

test('transaction state survives a restart; a transaction left in PrepareCommit is completed at load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-txn-restart-'));
  let { broker, client } = await startOn(dir);
  await createTopic(client, 'r', {}, 1);
  const p = await init(client, 'tx-r');
  assert.deepEqual(await addPartitions(client, 'tx-r', p, 'r', [0]), [0]);
  const ongoing = await init(client, 'tx-open');
  assert.deepEqual(await addPartitions(client, 'tx-open', ongoing, 'r', [0]), [0]);
  // Stop the markers from being written, so that the commit stays in PrepareCommit on disk.
  const markers = broker.services.txnMarkers as { write: unknown };
  markers.write = () => new Promise(() => undefined);
  assert.equal((await client.request('EndTxn', 3, { transactionalId: 'tx-r', producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true })).errorCode, ErrorCode.NONE);
  assert.equal((await describe(client, 'tx-r')).transactionState, 'PrepareCommit');
  client.close();
  await broker.close();

  ({ broker, client } = await startOn(dir));
  t.after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitState(client, 'tx-r', 'CompleteCommit');
  const open = await describe(client, 'tx-open');
  assert.deepEqual([open.transactionState, open.producerId, open.producerEpoch, open.topics], ['Ongoing', ongoing.producerId, ongoing.producerEpoch, [{ topic: 'r', partitions: [0] }]]);
  const batches = await batchesOf(client, 'r', 0);
  assert.deepEqual(batches.map((b) => [b.isControl, b.controlType, b.producerId]), [[true, ControlRecordType.COMMIT, p.producerId]]);
  // The next epoch continues from the one on disk.
  const again = await init(client, 'tx-r');
  assert.deepEqual([again.producerId, again.producerEpoch], [p.producerId, p.producerEpoch + 1]);
});

async function committedOffset(client: RawClient, groupId: string, topic: string, requireStable = false): Promise<[number, number]> {
  const r = await client.request('OffsetFetch', 7, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable });
  const p = r.topics![0]!.partitions[0]!;
  return [p.errorCode, p.committedOffset];
}

test('TxnOffsetCommit: offsets pending until the marker (UNSTABLE_OFFSET_COMMIT with RequireStable), dropped on abort, and rebuilt from the markers after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-txn-offsets-'));
  let { broker, client } = await startOn(dir);
  await createTopic(client, 'in', {}, 1);
  const p = await init(client, 'tx-o');
  const addOffsets = async (epoch: number) => (await client.request('AddOffsetsToTxn', 3, { transactionalId: 'tx-o', producerId: p.producerId, producerEpoch: epoch, groupId: 'g' })).errorCode;
  const commitOffset = async (offset: number) => (await client.request('TxnOffsetCommit', 3, {
    transactionalId: 'tx-o', groupId: 'g', producerId: p.producerId, producerEpoch: p.producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'in', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
  })).topics[0]!.partitions[0]!.errorCode;
  const end = async (committed: boolean) => (await client.request('EndTxn', 3, { transactionalId: 'tx-o', producerId: p.producerId, producerEpoch: p.producerEpoch, committed })).errorCode;

  // Without AddOffsetsToTxn the group's partition is not in the transaction.
  assert.equal(await commitOffset(5), ErrorCode.INVALID_TXN_STATE);
  assert.equal(await addOffsets(p.producerEpoch), ErrorCode.NONE);
  assert.equal(await addOffsets(p.producerEpoch + 7), ErrorCode.PRODUCER_FENCED);
  assert.equal(await commitOffset(10), ErrorCode.NONE);
  assert.deepEqual(await committedOffset(client, 'g', 'in'), [ErrorCode.NONE, -1]);
  assert.deepEqual(await committedOffset(client, 'g', 'in', true), [ErrorCode.UNSTABLE_OFFSET_COMMIT, -1]);
  assert.equal(await end(true), ErrorCode.NONE);
  await waitState(client, 'tx-o', 'CompleteCommit');
  assert.deepEqual(await committedOffset(client, 'g', 'in', true), [ErrorCode.NONE, 10]);

  assert.equal(await addOffsets(p.producerEpoch), ErrorCode.NONE);
  assert.equal(await commitOffset(20), ErrorCode.NONE);
  assert.equal(await end(false), ErrorCode.NONE);
  await waitState(client, 'tx-o', 'CompleteAbort');
  assert.deepEqual(await committedOffset(client, 'g', 'in'), [ErrorCode.NONE, 10]);

  // A third transaction left open across the restart.
  assert.equal(await addOffsets(p.producerEpoch), ErrorCode.NONE);
  assert.equal(await commitOffset(30), ErrorCode.NONE);
  client.close();
  await broker.close();

  ({ broker, client } = await startOn(dir));
  t.after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The committed transaction's offset came back from its marker, the aborted one's did not,
  // and the open one's is pending again.
  assert.deepEqual(await committedOffset(client, 'g', 'in'), [ErrorCode.NONE, 10]);
  assert.deepEqual(await committedOffset(client, 'g', 'in', true), [ErrorCode.UNSTABLE_OFFSET_COMMIT, -1]);
  assert.equal(await end(true), ErrorCode.NONE);
  await waitState(client, 'tx-o', 'CompleteCommit');
  assert.deepEqual(await committedOffset(client, 'g', 'in', true), [ErrorCode.NONE, 30]);
});

test('WriteTxnMarkers appends a marker per partition and answers each; markers on __consumer_offsets decide pending offsets', async (t) => {
  const { client } = await startBrokerWithClient(t, 'txn-markers');
  await createTopic(client, 'm', {}, 2);
  const r = await client.request('WriteTxnMarkers', 1, { markers: [
    { producerId: 77, producerEpoch: 3, transactionResult: true, coordinatorEpoch: 5, topics: [{ name: 'm', partitionIndexes: [0, 1] }, { name: 'nope', partitionIndexes: [0] }] },
    { producerId: 78, producerEpoch: 0, transactionResult: false, coordinatorEpoch: 5, topics: [{ name: 'm', partitionIndexes: [1] }] },
  ] });
  assert.deepEqual(r.markers.map((m) => [m.producerId, m.topics.map((x) => [x.name, x.partitions.map((p) => [p.partitionIndex, p.errorCode])])]), [
    [77, [['m', [[0, 0], [1, 0]]], ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]]],
    [78, [['m', [[1, 0]]]]],
  ]);
  const p1 = await batchesOf(client, 'm', 1);
  assert.deepEqual(p1.map((b) => [b.producerId, b.producerEpoch, b.controlType]), [[77, 3, ControlRecordType.COMMIT], [78, 0, ControlRecordType.ABORT]]);
});
