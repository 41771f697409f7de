// Transactions v2 (KIP-890 part 2) as Kafka 4.0 serves it, with raw requests (no Debian or npm
// client speaks it): ApiVersions finalizes transaction.version 2; Produce v12 and
// TxnOffsetCommit v5 add their partitions to the transaction implicitly; EndTxn v5 bumps the
// epoch at every transaction and answers it, markers carry the bumped epoch, a lost answer's
// retry gets the same answer; and the hanging-transaction defence: a late Produce of the
// previous transaction is fenced and starts nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType, decodeBatchSync, decodeControlRecordKey, encodeBatchSync, ErrorCode, forEachBatch, readBatchHeader } from '@tributary/protocol';
import type { RawClient } from './helpers/raw-client.js';
import { createTopic, fetchPartition, startBrokerWithClient } from './helpers/broker.js';

const TOPIC = 'tv2';

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, value: string): Buffer {
  return encodeBatchSync({ producerId, producerEpoch, baseSequence, transactional: true, records: [{ key: null, value: Buffer.from(value) }] });
}

async function produceV12(client: RawClient, transactionalId: string, partition: number, records: Buffer): Promise<number> {
  const r = await client.request('Produce', 12, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

async function endTxnV5(client: RawClient, transactionalId: string, producerId: number, producerEpoch: number, committed: boolean) {
  for (;;) {
    const r = await client.request('EndTxn', 5, { transactionalId, producerId, producerEpoch, committed });
    if (r.errorCode !== ErrorCode.CONCURRENT_TRANSACTIONS) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function state(client: RawClient, transactionalId: string) {
  return (await client.request('DescribeTransactions', 0, { transactionalIds: [transactionalId] })).transactionStates[0]!;
}

async function waitState(client: RawClient, transactionalId: string, wanted: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await state(client, transactionalId)).transactionState !== wanted) {
    if (Date.now() > deadline) throw new Error(`${transactionalId} never reached ${wanted}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** [isControl, controlType, producerEpoch, values] of every batch of a partition. */
async function batchesOf(client: RawClient, partition: number): Promise<[boolean, number | null, number, string[]][]> {
  const records = (await fetchPartition(client, 12, TOPIC, partition)).responses[0]!.partitions[0]!.records;
  const out: [boolean, number | null, number, string[]][] = [];
  if (records === null) return out;
  forEachBatch(records, (at, size) => {
    const h = readBatchHeader(records, at);
    const { records: rs } = decodeBatchSync(records.subarray(at, at + size));
    out.push([h.isControl, h.isControl ? decodeControlRecordKey(rs[0]!.key).type : null, h.producerEpoch, h.isControl ? [] : rs.map((x) => x.value!.toString())]);
  });
  return out;
}

test('ApiVersions v4 finalizes transaction.version 2 and serves EndTxn v5, Produce v12, TxnOffsetCommit v5, AddPartitionsToTxn v5', async (t) => {
  const { client } = await startBrokerWithClient(t, 'tv2-versions');
  const r = await client.request('ApiVersions', 4, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
  assert.deepEqual(r.supportedFeatures?.find((f) => f.name === 'transaction.version'), { name: 'transaction.version', minVersion: 0, maxVersion: 2 });
  assert.deepEqual(r.finalizedFeatures?.find((f) => f.name === 'transaction.version'), { name: 'transaction.version', minVersionLevel: 2, maxVersionLevel: 2 });
  const max = (key: number) => r.apiKeys.find((k) => k.apiKey === key)?.maxVersion;
  assert.deepEqual([max(26), max(0), max(28), max(24)], [5, 12, 5, 5]);
});

test('transactions v2: implicit partition addition, an epoch bump per EndTxn, markers with the bumped epoch, late produce fenced', async (t) => {
  const { client } = await startBrokerWithClient(t, 'tv2');
  await createTopic(client, TOPIC, {}, 2);
  await createTopic(client, 'in', {}, 1);
  assert.equal((await client.request('FindCoordinator', 3, { key: 'tv2-tx', keyType: 1 })).errorCode, ErrorCode.NONE);
  let init;
  do init = await client.request('InitProducerId', 5, { transactionalId: 'tv2-tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  while (init.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS);
  assert.equal(init.errorCode, ErrorCode.NONE);
  const { producerId } = init;
  const e0 = init.producerEpoch;

  // Produce v12 adds the partition itself: no AddPartitionsToTxn.
  assert.equal(await produceV12(client, 'tv2-tx', 0, txnBatch(producerId, e0, 0, 'one')), ErrorCode.NONE);
  const ongoing = await state(client, 'tv2-tx');
  assert.deepEqual([ongoing.transactionState, ongoing.topics], ['Ongoing', [{ topic: TOPIC, partitions: [0] }]]);
  // TxnOffsetCommit v5 adds the group's offsets partition itself: no AddOffsetsToTxn.
  const offsets = await client.request('TxnOffsetCommit', 5, {
    transactionalId: 'tv2-tx', groupId: 'tv2-group', producerId, producerEpoch: e0, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'in', partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(offsets.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.ok((await state(client, 'tv2-tx')).topics.some((x) => x.topic === '__consumer_offsets'));

  // EndTxn v5 answers the bumped epoch; the marker carries it.
  const commit = await endTxnV5(client, 'tv2-tx', producerId, e0, true);
  assert.deepEqual([commit.errorCode, commit.producerId, commit.producerEpoch], [ErrorCode.NONE, producerId, e0 + 1]);
  await waitState(client, 'tv2-tx', 'CompleteCommit');
  assert.deepEqual(await batchesOf(client, 0), [[false, null, e0, ['one']], [true, ControlRecordType.COMMIT, e0 + 1, []]]);
  const fetched = await client.request('OffsetFetch', 7, { groupId: 'tv2-group', topics: [{ name: 'in', partitionIndexes: [0] }], requireStable: true });
  assert.equal(fetched.topics![0]!.partitions[0]!.committedOffset, 7);
  // A retry of that EndTxn (its answer lost) gets the same answer; an abort with the old epoch is fenced.
  const retried = await endTxnV5(client, 'tv2-tx', producerId, e0, true);
  assert.deepEqual([retried.errorCode, retried.producerId, retried.producerEpoch], [ErrorCode.NONE, producerId, e0 + 1]);
  assert.equal((await endTxnV5(client, 'tv2-tx', producerId, e0, false)).errorCode, ErrorCode.PRODUCER_FENCED);

  // Hanging-transaction defence: a late retry of the first transaction's produce (old epoch)
  // is fenced and starts no transaction; the last stable offset is not held back.
  assert.equal(await produceV12(client, 'tv2-tx', 1, txnBatch(producerId, e0, 1, 'late')), ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal((await state(client, 'tv2-tx')).transactionState, 'CompleteCommit');
  assert.deepEqual(await batchesOf(client, 1), []);

  // The next transaction under the new epoch (sequences start again at 0), aborted.
  const e1 = e0 + 1;
  assert.equal(await produceV12(client, 'tv2-tx', 1, txnBatch(producerId, e1, 0, 'two')), ErrorCode.NONE);
  assert.equal(await produceV12(client, 'tv2-tx', 0, txnBatch(producerId, e1, 0, 'three')), ErrorCode.NONE);
  const abort = await endTxnV5(client, 'tv2-tx', producerId, e1, false);
  assert.deepEqual([abort.errorCode, abort.producerEpoch], [ErrorCode.NONE, e1 + 1]);
  await waitState(client, 'tv2-tx', 'CompleteAbort');
  assert.deepEqual(await batchesOf(client, 1), [[false, null, e1, ['two']], [true, ControlRecordType.ABORT, e1 + 1, []]]);
  assert.deepEqual((await batchesOf(client, 0)).slice(2), [[false, null, e1, ['three']], [true, ControlRecordType.ABORT, e1 + 1, []]]);

  // Aborting a transaction that added nothing is allowed (KIP-890) and still bumps the epoch;
  // committing one is not.
  const e2 = e1 + 1;
  assert.equal((await endTxnV5(client, 'tv2-tx', producerId, e2, true)).errorCode, ErrorCode.INVALID_TXN_STATE);
  const empty = await endTxnV5(client, 'tv2-tx', producerId, e2, false);
  assert.deepEqual([empty.errorCode, empty.producerEpoch], [ErrorCode.NONE, e2 + 1]);

  // Read committed: the committed record only, and the LSO at the high watermark.
  const rc = await client.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p0 = rc.responses[0]!.partitions[0]!;
  assert.equal(p0.lastStableOffset, p0.highWatermark);
  assert.deepEqual(p0.abortedTransactions, [{ producerId, firstOffset: 2 }]);
});

test('transactions v2: Produce v11 (transactions v1) still needs AddPartitionsToTxn', async (t) => {
  const { client } = await startBrokerWithClient(t, 'tv2-v1');
  await createTopic(client, TOPIC, {}, 1);
  await client.request('FindCoordinator', 3, { key: 'tv1-tx', keyType: 1 });
  let init;
  do init = await client.request('InitProducerId', 5, { transactionalId: 'tv1-tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  while (init.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS);
  const r = await client.request('Produce', 11, { transactionalId: 'tv1-tx', acks: -1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: txnBatch(init.producerId, init.producerEpoch, 0, 'x') }] }] });
  assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.equal((await state(client, 'tv1-tx')).transactionState, 'Empty');
});
