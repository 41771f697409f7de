// Regression (found by the replication simulation, seed 727): while an ISR expansion is in
// flight the leader counts the new member towards the high watermark (Kafka's maximalIsr).
// Before, the high watermark could pass records the new member lacked after the store had
// committed the expansion; the controller could then elect that member and lose them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import { LogManager } from '@tributary/storage';
import { createLogger } from '../src/index.js';
import type { MetadataStore, PartitionChange, PartitionState, TopicMetadata } from '../src/metadata/metadata-store.js';
import { MetadataError } from '../src/metadata/metadata-store.js';
import { Partition } from '../src/replica/partition.js';

test('an ISR expansion in flight holds the high watermark for the new member', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-pending-isr-'));
  const logManager = await LogManager.open({ dataDir: dir, schedulers: false, cleanerInline: true, logger: { info: () => undefined, warn: () => undefined } });
  t.after(async () => {
    await logManager.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const requested: { change: PartitionChange; answer: (err?: Error) => void }[] = [];
  const metadata = {
    // The store's answer is held: the expansion may or may not be committed yet.
    updatePartition: (change: PartitionChange) => new Promise<PartitionState>((resolve, reject) => requested.push({ change, answer: (err) => (err ? reject(err) : resolve(state)) })),
    // Every replica's broker registered and not shutting down (KIP-841 eligibility).
    brokers: () => [1, 2, 3].map((nodeId) => ({ nodeId, endpoints: [], rack: null })),
  } as unknown as MetadataStore;
  const state: PartitionState = { partition: 0, replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0 };
  const topic: TopicMetadata = { name: 't', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [state], configs: {}, internal: false };
  const log = logManager.createLog('t', 0);
  const partition = new Partition({ nodeId: 1, metadata, logManager, logger: createLogger({ level: 'silent' }) }, log, topic, state);
  partition.update(topic, state);
  const produce = (n: number): void => {
    const r = partition.appendRecordsToLeader({ topic: 't', partition: 0, records: encodeBatchSync({ records: Array.from({ length: n }, () => ({ value: Buffer.from('v') })) }), acks: 1, produceVersion: 9, nowMs: Date.now() });
    assert.ok(!(r instanceof Promise));
  };
  const now = Date.now();
  produce(5);
  partition.updateFollowerFetchState(2, 5, now);
  assert.equal(log.highWatermark, 5);
  produce(3);
  // Follower 3 reaches the high watermark: the leader asks to add it to the ISR.
  partition.updateFollowerFetchState(3, 5, now);
  assert.equal(requested.length, 1);
  assert.deepEqual(requested[0]!.change.isr, [1, 2, 3]);
  // Follower 2 has everything; the high watermark still waits for 3, which may be in the ISR already.
  partition.updateFollowerFetchState(2, 8, now);
  assert.equal(log.highWatermark, 5);
  partition.updateFollowerFetchState(3, 8, now);
  assert.equal(log.highWatermark, 8);

  // A refused expansion (stale partition epoch: nothing committed) stops counting the replica.
  produce(2);
  partition.updateFollowerFetchState(2, 10, now);
  assert.equal(log.highWatermark, 8, 'follower 3 is pending still');
  requested[0]!.answer(new MetadataError('TRIB_ERR_STALE_PARTITION_EPOCH', 'stale'));
  await new Promise((resolve) => setImmediate(resolve));
  partition.updateFollowerFetchState(2, 10, now);
  assert.equal(log.highWatermark, 10);
});
