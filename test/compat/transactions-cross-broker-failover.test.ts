/**
 * Transactions across brokers, with raw requests, in the cluster of txn-cluster.ts (the
 * transaction coordinator on broker 1, data partitions led by brokers 2 and 3, the group
 * coordinator on broker 3):
 * - the coordinator's broker is closed between EndTxn(commit) and its markers (its marker
 *   writes are held back): the new coordinator loads PrepareCommit and writes COMMIT markers
 *   on both remote leaders; a transaction left Ongoing is aborted by the new coordinator when
 *   it times out, ABORT markers on the remote leaders;
 * - a leader answering NOT_LEADER_OR_FOLLOWER gets the marker again until the partition's
 *   leadership moves, and the new leader gets it;
 * - transactions v2: Produce v12 and TxnOffsetCommit v5 on brokers other than the coordinator
 *   add their partitions through it; EndTxn v5's markers reach them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType, ErrorCode } from '@tributary/protocol';
import { waitFor } from '../../packages/broker/test/helpers/cluster.js';
import { logOf } from './txn-helpers.js';
import { IN, OUT_JS, OUT_PY, newCoordinator, openTo, openTransaction, portOf, startCluster, txnBatch, waitForMarkers } from './txn-cluster.js';

test('the coordinator\'s broker closes mid-transaction: the new coordinator writes the markers on the remote leaders', { timeout: 90_000 }, async (t) => {
  // Broker 1 goes away at once (no controlled shutdown in this cluster), as a killed one does.
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

test('a leader refusing the marker (NOT_LEADER_OR_FOLLOWER) gets it again until leadership moves; the new leader gets it', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(t);
  const { producerId, producerEpoch, coordinator } = await openTransaction(t, cluster, 'xb-move', 60_000);
  // Broker 2 (leader of partition 0) answers every WriteTxnMarkers NOT_LEADER_OR_FOLLOWER, as a
  // leader does while it is losing the partition.
  const services = cluster.broker(2).services as unknown as { txnMarkers: { write: (m: { partitions: unknown[] }) => Promise<number[]> } };
  let refused = 0;
  services.txnMarkers.write = async (m) => {
    refused++;
    return m.partitions.map(() => ErrorCode.NOT_LEADER_OR_FOLLOWER);
  };
  const end = await coordinator.request('EndTxn', 3, { transactionalId: 'xb-move', producerId, producerEpoch, committed: true });
  assert.equal(end.errorCode, ErrorCode.NONE);
  await waitFor('the marker refused and retried', 10_000, () => (refused >= 2 ? true : undefined));
  // Partition 1 (broker 3) is done; partition 0 is not, and the transaction is still ending.
  await waitForMarkers(cluster, 'xb-move', ControlRecordType.COMMIT, [1]);
  const during = await coordinator.request('DescribeTransactions', 0, { transactionalIds: ['xb-move'] });
  assert.equal(during.transactionStates[0]!.transactionState, 'PrepareCommit');

  const state = cluster.metadata.topic(OUT_PY)!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: OUT_PY, partition: 0, expectedPartitionEpoch: state.partitionEpoch, leader: 3, bumpLeaderEpoch: true });
  await waitForMarkers(cluster, 'xb-move', ControlRecordType.COMMIT, [0]);
  assert.equal(cluster.leaderOf(OUT_PY, 0), 3);
  await waitFor('the transaction complete', 10_000, async () => {
    const s = await coordinator.request('DescribeTransactions', 0, { transactionalIds: ['xb-move'] });
    return s.transactionStates[0]!.transactionState === 'CompleteCommit' ? true : undefined;
  });
});
