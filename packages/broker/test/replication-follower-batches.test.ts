// A follower catching up receives many batches of several partitions per Fetch response
// (read straight into the response frame, then CRC-checked and appended batch by batch):
// every batch lands intact, at the leader's offsets, in far fewer round trips than batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type ProduceResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import type { ReplicaFetcherManager } from '../src/replica/replica-fetcher.js';

const TOPIC = 'burst';
const PARTITIONS = 2;
const BATCHES_PER_PARTITION = 60;
const RECORDS_PER_BATCH = 4;

function logBytes(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset });
  if (read.kind !== 'ok') throw new Error(`${log.topicPartition} read out of range`);
  return Buffer.concat(read.records);
}

test('a follower catching up gets several batches of several partitions per response; every batch lands intact at the leader\'s offsets', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3);
  const c = await RawClient.open(cluster.broker(1).port);
  t.after(() => c.close());
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name: TOPIC, numPartitions: -1, replicationFactor: -1, assignments: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [{ name: 'min.insync.replicas', value: '1' }] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, created.topics[0]!.errorMessage ?? '');
  await waitFor('broker 1 leads every partition', 10_000, () => (Array.from({ length: PARTITIONS }, (_, p) => cluster.replica(1, TOPIC, p).role).every((r) => r === 'leader') ? true : undefined));

  // Broker 3 stops fetching while the leader takes every batch.
  cluster.broker(3).services.replicaManager.pauseFetching();
  for (let b = 0; b < BATCHES_PER_PARTITION; b++) {
    for (let p = 0; p < PARTITIONS; p++) {
      const now = Date.now();
      const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(300, `${p}-${b}-${i}`), timestamp: now })) });
      const r: ProduceResponse = await c.request('Produce', 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records }] }] });
      assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    }
  }
  const end = BATCHES_PER_PARTITION * RECORDS_PER_BATCH;

  // Restarted, it fetches from its log end: the leader answers many batches at once.
  await cluster.stopBroker(3);
  await cluster.startBroker(3);
  const logs = Array.from({ length: PARTITIONS }, (_, p) => cluster.replica(3, TOPIC, p).log);
  await waitFor('broker 3 caught up', 15_000, () => (logs.every((l) => l.logEndOffset === end) ? true : undefined));
  const fetcher = (cluster.broker(3).services.replicaManager.replicaFetchers as ReplicaFetcherManager).fetcherFor(1);
  assert.ok(fetcher !== undefined);
  assert.ok(fetcher.stats.requests < BATCHES_PER_PARTITION / 2, `${PARTITIONS * BATCHES_PER_PARTITION} batches in ${fetcher.stats.requests} fetches`);
  for (let p = 0; p < PARTITIONS; p++) {
    const leaderLog = cluster.replica(1, TOPIC, p).log;
    assert.equal(leaderLog.logEndOffset, end);
    assert.ok(logBytes(logs[p]!).equals(logBytes(leaderLog)), `partition ${p}: the follower holds the leader's bytes`);
    // Every batch is where the leader has it: the follower's reads by offset find the same bytes.
    for (const offset of [0, RECORDS_PER_BATCH * 7, end - RECORDS_PER_BATCH]) {
      const mine = logs[p]!.read(offset, 1, { minOneBatch: true, maxOffset: end });
      const theirs = leaderLog.read(offset, 1, { minOneBatch: true, maxOffset: end });
      assert.ok(mine.kind === 'ok' && theirs.kind === 'ok' && Buffer.concat(mine.records).equals(Buffer.concat(theirs.records)), `partition ${p} offset ${offset}`);
    }
  }
});
