/**
 * Leader epochs as clients and followers see them, over a real socket with raw requests:
 * OffsetForLeaderEpoch (all versions), current_leader_epoch fencing in Fetch and
 * ListOffsets (leaders and former leaders), ListOffsets' leader_epoch of the returned
 * offset, and Fetch v12+'s diverging_epoch. Leader changes are made in the metadata store
 * (bumpLeaderEpoch), as a controller would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatchSync, ErrorCode, type FetchRequest } from '@tributary/protocol';
import { startBrokerWithClient, type TestContext } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';
import type { RunningBroker } from '../src/index.js';

const T = 'epochs';

async function produce(client: RawClient, values: string[], timestamp = Date.now()): Promise<void> {
  const batch = encodeBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp })) });
  const r = await client.request('Produce', 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: T, partitionData: [{ index: 0, records: batch }] }] });
  assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
}

/** A leader change kept on this broker (or moved to `leader`): the leader epoch goes up by one. */
async function bumpEpoch(broker: RunningBroker, leader?: number, replicas?: number[]): Promise<number> {
  const state = broker.services.metadata.topic(T)!.partitions[0]!;
  const next = await broker.services.metadata.updatePartition({
    topic: T, partition: 0, expectedPartitionEpoch: state.partitionEpoch, bumpLeaderEpoch: true,
    ...(leader !== undefined ? { leader } : {}),
    ...(replicas !== undefined ? { replicas, isr: replicas } : {}),
  });
  return next.leaderEpoch;
}

/**
 * Epoch 0 wrote offsets 0-2 (at time 1000), epoch 1 wrote 3-4 (at time 2000), and the
 * partition is now at epoch 2 with nothing written in it yet.
 */
async function setup(t: TestContext) {
  const { broker, client } = await startBrokerWithClient(t, 'epochs');
  const created = await client.request('CreateTopics', 7, { topics: [{ name: T, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  await produce(client, ['a', 'b', 'c'], 1000);
  assert.equal(await bumpEpoch(broker), 1);
  await produce(client, ['d', 'e'], 2000);
  assert.equal(await bumpEpoch(broker), 2);
  return { broker, client };
}

async function epochEnd(client: RawClient, version: number, leaderEpoch: number, currentLeaderEpoch = -1, topic = T, partition = 0) {
  const r = await client.request('OffsetForLeaderEpoch', version, { replicaId: -1, topics: [{ topic, partitions: [{ partition, currentLeaderEpoch, leaderEpoch }] }] });
  const p = r.topics[0]!.partitions[0]!;
  return [p.errorCode, p.leaderEpoch, p.endOffset];
}

test('OffsetForLeaderEpoch v0-v4 answers where each epoch ends, as Kafka', async (t) => {
  const { client, broker } = await setup(t);
  // Becoming leader of epoch 2 recorded its start at the log end, before it wrote (Kafka's makeLeader).
  assert.deepEqual(broker.services.logManager.getLog(T, 0)!.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 3 }, { epoch: 2, startOffset: 5 }]);
  for (const v of [3, 4]) {
    assert.deepEqual(await epochEnd(client, v, 0), [ErrorCode.NONE, 0, 3], `v${v} epoch 0`);
    assert.deepEqual(await epochEnd(client, v, 1), [ErrorCode.NONE, 1, 5], 'epoch 1 ends where epoch 2 starts: the log end when it became leader');
    assert.deepEqual(await epochEnd(client, v, 2), [ErrorCode.NONE, 2, 5], 'the current epoch ends at the log end');
    assert.deepEqual(await epochEnd(client, v, 3), [ErrorCode.NONE, -1, -1], 'an epoch newer than the leader\'s');
    assert.deepEqual(await epochEnd(client, v, -1), [ErrorCode.NONE, -1, -1]);
  }
  // v0 has no leader epoch in the answer; v1 has; v2+ check currentLeaderEpoch.
  const v0 = await client.request('OffsetForLeaderEpoch', 0, { topics: [{ topic: T, partitions: [{ partition: 0, leaderEpoch: 0 }] }] });
  assert.deepEqual([v0.topics[0]!.partitions[0]!.errorCode, v0.topics[0]!.partitions[0]!.endOffset], [ErrorCode.NONE, 3]);
  assert.deepEqual(await epochEnd(client, 1, 0), [ErrorCode.NONE, 0, 3]);
  assert.deepEqual(await epochEnd(client, 2, 0, 2), [ErrorCode.NONE, 0, 3]);
  assert.deepEqual(await epochEnd(client, 2, 0, 1), [ErrorCode.FENCED_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, 3), [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, -1, 'nope'), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, -1, T, 7), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]);
  // Once the new epoch writes, its entry is real and answers the same.
  await produce(client, ['f']);
  assert.deepEqual(await epochEnd(client, 4, 1), [ErrorCode.NONE, 1, 5]);
  assert.deepEqual(await epochEnd(client, 4, 2), [ErrorCode.NONE, 2, 6]);
  const versions = await client.request('ApiVersions', 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  const range = versions.apiKeys.find((k) => k.apiKey === 23);
  assert.deepEqual([range?.minVersion, range?.maxVersion], [0, 4]);
});

function listOffsets(client: RawClient, timestamp: number, currentLeaderEpoch = -1) {
  return client.request('ListOffsets', 7, {
    replicaId: -1, isolationLevel: 0, topics: [{ name: T, partitions: [{ partitionIndex: 0, currentLeaderEpoch, timestamp, maxNumOffsets: 1 }] }],
  }).then((r) => {
    const p = r.topics[0]!.partitions[0]!;
    return [p.errorCode, p.offset, p.leaderEpoch];
  });
}

test('ListOffsets answers the leader epoch of the offset it returns, and fences stale epochs', async (t) => {
  const { client } = await setup(t);
  assert.deepEqual(await listOffsets(client, -1), [ErrorCode.NONE, 5, 2], 'LATEST: the current epoch');
  assert.deepEqual(await listOffsets(client, -2), [ErrorCode.NONE, 0, 0], 'EARLIEST: the first epoch');
  assert.deepEqual(await listOffsets(client, 1500), [ErrorCode.NONE, 3, 1], 'by time: the batch\'s epoch');
  assert.deepEqual(await listOffsets(client, 500), [ErrorCode.NONE, 0, 0]);
  assert.deepEqual(await listOffsets(client, -3), [ErrorCode.NONE, 3, 1], 'MAX_TIMESTAMP: the batch\'s epoch');
  assert.deepEqual(await listOffsets(client, 9_000_000_000_000), [ErrorCode.NONE, -1, -1], 'nothing found: epoch -1 too');
  assert.deepEqual(await listOffsets(client, -1, 1), [ErrorCode.FENCED_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await listOffsets(client, -1, 3), [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await listOffsets(client, -1, 2), [ErrorCode.NONE, 5, 2]);
});

function fetchRequest(partition: { fetchOffset: number; lastFetchedEpoch?: number; currentLeaderEpoch?: number }, replicaId = -1, sessionId = 0, sessionEpoch = -1): FetchRequest {
  return {
    replicaId, maxWaitMs: 2000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: [{ topic: T, partitions: [{ partition: 0, currentLeaderEpoch: partition.currentLeaderEpoch ?? -1, fetchOffset: partition.fetchOffset, lastFetchedEpoch: partition.lastFetchedEpoch ?? -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

test('Fetch v12+ answers diverging_epoch with no records, at once, when the fetcher\'s log diverges', async (t) => {
  const { client } = await setup(t);
  const fetch = async (p: Parameters<typeof fetchRequest>[0], version = 12) => {
    const started = Date.now();
    const r = await client.request('Fetch', version, fetchRequest(p));
    const data = r.responses[0]!.partitions[0]!;
    return { data, waitedMs: Date.now() - started };
  };
  // A follower that holds epoch 1 up to offset 7 (two records the leader never had).
  let r = await fetch({ fetchOffset: 7, lastFetchedEpoch: 1 });
  assert.equal(r.data.errorCode, ErrorCode.NONE);
  assert.deepEqual([r.data.divergingEpoch?.epoch, r.data.divergingEpoch?.endOffset], [1, 5]);
  assert.equal(r.data.records?.length ?? 0, 0);
  assert.ok(r.waitedMs < 1500, `answered at once, not after the long poll (${r.waitedMs} ms)`);
  assert.equal(r.data.highWatermark, 5);
  // A fetcher that holds an epoch the leader never had (a zombie's epoch 1 written elsewhere
  // is impossible here, so: epoch 0 past its end) diverges at epoch 0's end.
  r = await fetch({ fetchOffset: 4, lastFetchedEpoch: 0 });
  assert.deepEqual([r.data.divergingEpoch?.epoch, r.data.divergingEpoch?.endOffset], [0, 3]);
  // In step: records as usual, no diverging epoch.
  r = await fetch({ fetchOffset: 3, lastFetchedEpoch: 0 });
  assert.equal(r.data.divergingEpoch?.epoch ?? -1, -1, 'no diverging epoch (the tagged field is absent)');
  assert.ok((r.data.records?.length ?? 0) > 0);
  r = await fetch({ fetchOffset: 0, lastFetchedEpoch: -1 });
  assert.equal(r.data.divergingEpoch?.epoch ?? -1, -1, 'no diverging epoch (the tagged field is absent)');
  // An epoch newer than the leader's: OFFSET_OUT_OF_RANGE, as Kafka.
  r = await fetch({ fetchOffset: 5, lastFetchedEpoch: 9 });
  assert.equal(r.data.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  // Below v12 there is no lastFetchedEpoch: no diverging answer.
  const v11 = await client.request('Fetch', 11, fetchRequest({ fetchOffset: 0, lastFetchedEpoch: 1 }));
  assert.equal(v11.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  // Fencing still comes first.
  r = await fetch({ fetchOffset: 7, lastFetchedEpoch: 1, currentLeaderEpoch: 1 });
  assert.equal(r.data.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  r = await fetch({ fetchOffset: 7, lastFetchedEpoch: 1, currentLeaderEpoch: 3 });
  assert.equal(r.data.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
});

test('an incremental fetch session carries lastFetchedEpoch and answers a diverging partition', async (t) => {
  const { broker, client } = await setup(t);
  const topicId = broker.services.metadata.topic(T)!.topicId;
  const open = await client.request('Fetch', 13, {
    ...fetchRequest({ fetchOffset: 5, lastFetchedEpoch: 2 }, -1, 0, 0), maxWaitMs: 0, minBytes: 0,
    topics: [{ topic: '', topicId, partitions: [{ partition: 0, currentLeaderEpoch: 2, fetchOffset: 5, lastFetchedEpoch: 2, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
  });
  assert.equal(open.responses[0]!.partitions[0]!.divergingEpoch?.epoch ?? -1, -1);
  const next = await client.request('Fetch', 13, {
    ...fetchRequest({ fetchOffset: 7, lastFetchedEpoch: 1 }, -1, open.sessionId, 1), maxWaitMs: 0, minBytes: 0,
    topics: [{ topic: '', topicId, partitions: [{ partition: 0, currentLeaderEpoch: 2, fetchOffset: 7, lastFetchedEpoch: 1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
  });
  assert.equal(next.errorCode, ErrorCode.NONE);
  const p = next.responses[0]!.partitions[0]!;
  assert.deepEqual([p.divergingEpoch?.epoch, p.divergingEpoch?.endOffset], [1, 5]);
});

test('a former leader fences stale epochs before saying NOT_LEADER_OR_FOLLOWER', async (t) => {
  const { broker, client } = await setup(t);
  const self = broker.services.nodeId;
  // Leadership moves to broker 99; this broker keeps a replica (a follower now, epoch 3).
  assert.equal(await bumpEpoch(broker, 99, [99, self]), 3);
  assert.deepEqual(await epochEnd(client, 4, 0, 3), [ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, 2), [ErrorCode.FENCED_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, 4), [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await epochEnd(client, 4, 0, -1), [ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1]);
  assert.deepEqual(await listOffsets(client, -1, 2), [ErrorCode.FENCED_LEADER_EPOCH, -1, -1]);
  assert.deepEqual(await listOffsets(client, -1, 3), [ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1]);
  const fetched = await client.request('Fetch', 12, { ...fetchRequest({ fetchOffset: 0, currentLeaderEpoch: 2 }), maxWaitMs: 0 });
  assert.equal(fetched.responses[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  const fetched3 = await client.request('Fetch', 12, { ...fetchRequest({ fetchOffset: 0, currentLeaderEpoch: 3 }), maxWaitMs: 0 });
  assert.equal(fetched3.responses[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  // v16+ (KIP-951): both errors name the current leader and its endpoint when it is registered.
  const topicId = broker.services.metadata.topic(T)!.topicId;
  const byId = (req: FetchRequest): FetchRequest => ({ ...req, topics: req.topics.map((x) => ({ ...x, topic: '', topicId })) });
  const v16 = await client.request('Fetch', 16, byId({ ...fetchRequest({ fetchOffset: 0, currentLeaderEpoch: 2 }), maxWaitMs: 0 }));
  const p16 = v16.responses[0]!.partitions[0]!;
  assert.deepEqual([p16.errorCode, p16.currentLeader?.leaderId, p16.currentLeader?.leaderEpoch], [ErrorCode.FENCED_LEADER_EPOCH, 99, 3]);
  assert.deepEqual(v16.nodeEndpoints, [], 'broker 99 is not registered: no endpoint to give');
  await broker.services.metadata.registerBroker({ nodeId: 99, rack: 'r9', endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.99', port: 9999, securityProtocol: 'PLAINTEXT' }] });
  const again = await client.request('Fetch', 16, byId({ ...fetchRequest({ fetchOffset: 0, currentLeaderEpoch: 3 }), maxWaitMs: 0 }));
  const pAgain = again.responses[0]!.partitions[0]!;
  assert.deepEqual([pAgain.errorCode, pAgain.currentLeader?.leaderId, pAgain.currentLeader?.leaderEpoch], [ErrorCode.NOT_LEADER_OR_FOLLOWER, 99, 3]);
  assert.deepEqual(again.nodeEndpoints?.map((n) => [n.nodeId, n.host, n.port, n.rack]), [[99, '127.0.0.99', 9999, 'r9']]);
  const v15 = await client.request('Fetch', 15, byId({ ...fetchRequest({ fetchOffset: 0, currentLeaderEpoch: 3 }), maxWaitMs: 0 }));
  assert.equal(v15.responses[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(v15.responses[0]!.partitions[0]!.currentLeader?.leaderId ?? -1, -1, 'before v16 Kafka leaves currentLeader at its default');
  // Not a replica at all: NOT_LEADER_OR_FOLLOWER whatever the epoch (Kafka's HostedPartition.None).
  await bumpEpoch(broker, 99, [99, 98]);
  assert.deepEqual(await epochEnd(client, 4, 0, 2), [ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1]);
});
