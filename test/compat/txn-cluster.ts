/**
 * The 3-broker cluster of the cross-broker transaction tests: RF=3, `__transaction_state`
 * (one partition) led by broker 1, `__consumer_offsets` (one partition) by broker 3, and the
 * data topics' partitions by brokers 2 and 3 only, so every marker and every verification
 * crosses brokers. Plus raw-request helpers for transactions in it.
 */
import assert from 'node:assert/strict';
import { ControlRecordType, encodeBatchSync, ErrorCode } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { TestCluster, waitFor } from '../../packages/broker/test/helpers/cluster.js';
import type { TestContext } from '../../packages/broker/test/helpers/broker.js';
import { logOf } from './txn-helpers.js';

export const ALL = [1, 2, 3];
export const PARTITIONS = 3;
/** Leaders of the data partitions: never broker 1, the transaction coordinator. */
export const DATA_LEADERS = [2, 3, 2];
export const IN = 'xb-in';
export const OUT_PY = 'xb-out-py';
export const OUT_JS = 'xb-out-js';

export async function startCluster(t: TestContext, config: Record<string, string | number> = {}): Promise<TestCluster> {
  // No controlled shutdown: a stopped broker goes away at once, as a killed one does (its
  // partitions fail over through the controller), and closing the cluster takes no waits.
  const cluster = await TestCluster.start(t, 3, { 'transaction.state.log.num.partitions': 1, 'controlled.shutdown.enable': 'false', ...config }, { offsetsPartitions: 1 });
  const offsets = cluster.metadata.topic('__consumer_offsets')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: '__consumer_offsets', partition: 0, expectedPartitionEpoch: offsets.partitionEpoch, leader: 3, bumpLeaderEpoch: true });
  await cluster.metadata.createTopic({
    name: '__transaction_state',
    internal: true,
    configs: { 'cleanup.policy': 'compact', 'compression.type': 'uncompressed', 'min.insync.replicas': '2' },
    partitions: [{ replicas: ALL, leader: 1, isr: ALL }],
  });
  for (const name of [IN, OUT_PY, OUT_JS]) {
    await cluster.metadata.createTopic({ name, configs: {}, partitions: DATA_LEADERS.map((leader) => ({ replicas: [leader, ...ALL.filter((b) => b !== leader)], leader, isr: ALL })) });
  }
  await waitFor('broker 1 coordinates __transaction_state-0', 10_000, () => (cluster.broker(1).services.txnCoordinator.loadedPartitions().includes(0) ? true : undefined));
  return cluster;
}

export function portOf(cluster: TestCluster, topic: string, partition: number): number {
  return cluster.broker(cluster.leaderOf(topic, partition)).port;
}

export function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, value: string): Buffer {
  return encodeBatchSync({ producerId, producerEpoch, baseSequence, transactional: true, records: [{ key: null, value: Buffer.from(value) }] });
}

export async function openTo(t: TestContext, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

/** InitProducerId, AddPartitionsToTxn for partitions 0 (leader 2) and 1 (leader 3), and one record in each. */
export async function openTransaction(t: TestContext, cluster: TestCluster, transactionalId: string, timeoutMs: number): Promise<{ producerId: number; producerEpoch: number; coordinator: RawClient }> {
  const coordinator = await openTo(t, cluster, 1);
  const init = await coordinator.request('InitProducerId', 4, { transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  const { producerId, producerEpoch } = init;
  const added = await coordinator.request('AddPartitionsToTxn', 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: OUT_PY, partitions: [0, 1] }] });
  assert.deepEqual(added.resultsByTopicV3AndBelow![0]!.resultsByPartition.map((x) => x.partitionErrorCode), [ErrorCode.NONE, ErrorCode.NONE]);
  for (const partition of [0, 1]) {
    const leader = await openTo(t, cluster, cluster.leaderOf(OUT_PY, partition));
    const r = await leader.request('Produce', 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: OUT_PY, partitionData: [{ index: partition, records: txnBatch(producerId, producerEpoch, 0, `${transactionalId}-${partition}`) }] }] });
    assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, `transactional produce to broker ${cluster.leaderOf(OUT_PY, partition)}, verified by the coordinator on broker 1`);
  }
  return { producerId, producerEpoch, coordinator };
}

export async function newCoordinator(cluster: TestCluster): Promise<number> {
  return waitFor('a new leader of __transaction_state-0', 15_000, () => {
    const l = cluster.leaderOf('__transaction_state', 0);
    return l > 1 ? l : undefined;
  });
}

export async function waitForMarkers(cluster: TestCluster, transactionalId: string, type: number, partitions = [0, 1]): Promise<void> {
  for (const partition of partitions) {
    await waitFor(`${type === ControlRecordType.COMMIT ? 'COMMIT' : 'ABORT'} marker of ${transactionalId} on ${OUT_PY}-${partition}`, 20_000, async () => {
      const log = await logOf(portOf(cluster, OUT_PY, partition), OUT_PY, partition);
      const i = log.findIndex((e) => e.value === `${transactionalId}-${partition}`);
      return i >= 0 && log.slice(i + 1).some((e) => e.control === type) ? true : undefined;
    });
  }
}
