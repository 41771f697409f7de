// FindCoordinator in a cluster names the leader of the group's `__consumer_offsets`
// partition, whichever broker is asked (Kafka's KafkaApis.getCoordinator). Regression test
// for a bug the fault suite found (test/fault/, docs/reliability.md): every broker named
// itself, the group handlers of a broker not leading the partition answered NOT_COORDINATOR,
// and librdkafka, which asks the same broker again, never joined its group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './helpers/cluster.js';
import { RawClient } from './helpers/raw-client.js';

test('every broker names the leader of the group\'s __consumer_offsets partition as its coordinator', async (t) => {
  // Three partitions, every replica on every broker, leader 1 (TestCluster's offsetsPartitions).
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: 3 });
  const leader = cluster.broker(1);
  for (const asked of cluster.brokers) {
    const client = await RawClient.open(asked.port);
    t.after(() => client.close());
    const v3 = await client.request('FindCoordinator', 3, { key: 'some-group', keyType: 0 });
    assert.equal(v3.errorCode, 0);
    assert.deepEqual([v3.nodeId, v3.port], [1, leader.port], `broker ${asked.nodeId} names the leader`);
    const v4 = await client.request('FindCoordinator', 4, { keyType: 0, coordinatorKeys: ['a', 'b', 'c'] });
    assert.equal(v4.coordinators?.length, 3);
    for (const c of v4.coordinators ?? []) assert.deepEqual([c.errorCode, c.nodeId, c.port], [0, 1, leader.port], `broker ${asked.nodeId}, group ${c.key}`);
  }
});
