// A transaction marker to a partition whose ISR is below min.insync.replicas is refused before
// it is written (NOT_ENOUGH_REPLICAS, as Kafka's Partition.appendRecordsToLeader refuses every
// acks=all append), so the coordinator's retries every 100 ms do not each add a marker (the
// 120 duplicate COMMIT markers of session 12, docs/reliability.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import { leaderPartition } from './helpers/partition.js';

test('a marker below min.insync.replicas is refused before the append; with the ISR back it is written once', async (t) => {
  const { log, partition } = await leaderPartition(t, { replicas: [1, 2], isr: [1], configs: { 'min.insync.replicas': '2' } });
  log.append(encodeBatchSync({ producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ value: Buffer.from('v') }] }), { leaderEpoch: 0 });
  const marker = { producerId: 7, producerEpoch: 0, coordinatorEpoch: 0, commit: true };
  for (let i = 0; i < 3; i++) assert.equal((await partition.appendTxnMarker(marker, 1000)).errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.equal(log.logEndOffset, 1, 'no marker written');
  // The follower is back in the ISR (a single-replica ISR allowed again, to answer at once).
  log.config = { ...log.config, minInsyncReplicas: 1 };
  assert.equal((await partition.appendTxnMarker(marker, 1000)).errorCode, ErrorCode.NONE);
  assert.equal(log.logEndOffset, 2, 'one marker');
});
