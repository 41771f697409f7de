// Rack-aware placement: replicas of a partition never share a rack while there are enough
// racks, leaders are spread, the host stands in for an unset broker.rack, and brokers in
// controlled shutdown get no new replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@tributary/protocol';
import { BrokerConfig } from '../src/config/broker-config.js';
import { silentLogger } from '../src/logger.js';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import { TopicManager } from '../src/topics/topic-manager.js';
import { placeReplicas, placementRack } from '../src/topics/replica-placement.js';

const rackOf = new Map([[1, 'a'], [2, 'a'], [3, 'b'], [4, 'b'], [5, 'c'], [6, 'c']]);
const brokers = [...rackOf].map(([nodeId, rack]) => ({ nodeId, rack }));

test('rack-aware placement: one replica per rack while racks last, leaders spread evenly', () => {
  const placed = placeReplicas('orders', brokers, 0, 60, 3);
  assert.ok(placed.ok);
  const leaders = new Map<number, number>();
  for (const replicas of placed.assignments) {
    assert.equal(new Set(replicas.map((id) => rackOf.get(id))).size, 3, `replicas ${replicas} span three racks`);
    leaders.set(replicas[0]!, (leaders.get(replicas[0]!) ?? 0) + 1);
  }
  assert.deepEqual([...leaders.values()], [10, 10, 10, 10, 10, 10]);
  // More replicas than racks: every rack first, then a second replica per rack.
  const wide = placeReplicas('wide', brokers, 0, 6, 5);
  assert.ok(wide.ok);
  for (const replicas of wide.assignments) {
    assert.equal(new Set(replicas).size, 5);
    assert.equal(new Set(replicas.slice(0, 3).map((id) => rackOf.get(id))).size, 3);
  }
});

test('one rack (no broker.rack anywhere): plain round robin over the brokers sorted by id, as before', () => {
  const ids = placeReplicas('x', [3, 1, 2], 0, 3, 2);
  const sameRack = placeReplicas('x', [{ nodeId: 3, rack: null }, { nodeId: 1, rack: null }, { nodeId: 2, rack: null }], 0, 3, 2);
  assert.deepEqual(ids, sameRack);
  assert.ok(ids.ok);
  for (const r of ids.assignments) assert.equal((r[1]! - r[0]! + 3) % 3, 1, 'the follower is the next broker by id');
});

test('the advertised host stands in for an unset broker.rack: brokers sharing a host hold one replica of a partition', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-placement-'));
  const metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  t.after(async () => { await metadata.close(); rmSync(dir, { recursive: true, force: true }); });
  // Brokers 1-3 on host h1, 4-6 on h2, 7 on h3 in rack r3 (broker.rack wins over its host).
  const hosts: Record<number, string> = { 1: 'h1', 2: 'h1', 3: 'h1', 4: 'h2', 5: 'h2', 6: 'h2', 7: 'h3' };
  for (const [id, host] of Object.entries(hosts)) {
    const nodeId = Number(id);
    await metadata.registerBroker({ nodeId, endpoints: [{ listener: 'PLAINTEXT', host, port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' }], rack: nodeId === 7 ? 'r3' : null });
  }
  assert.equal(placementRack(metadata.brokers()[0]!), 'h1');
  assert.equal(placementRack(metadata.brokers()[6]!), 'r3');
  const config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir }]);
  const manager = new TopicManager({ metadata, nodeId: 1, config: () => config, logger: silentLogger });
  const created = await manager.createTopic({ name: 'spread', numPartitions: 12, replicationFactor: 3 });
  assert.equal(created.errorCode, ErrorCode.NONE);
  const rack = (id: number) => (id === 7 ? 'r3' : hosts[id]);
  for (const p of created.topic!.partitions) assert.equal(new Set(p.replicas.map(rack)).size, 3, `replicas ${p.replicas} on three racks`);
  // CreatePartitions places the same way, and not on a broker in controlled shutdown.
  await metadata.registerBroker({ ...metadata.brokers().find((b) => b.nodeId === 7)!, inControlledShutdown: true });
  const grown = await manager.createPartitions('spread', 18, null, false);
  assert.equal(grown.errorCode, ErrorCode.NONE);
  for (const p of metadata.topic('spread')!.partitions.slice(12)) {
    assert.ok(!p.replicas.includes(7), `new partition ${p.partition} avoids the broker shutting down`);
    assert.equal(new Set(p.replicas.map(rack)).size, 2, 'two racks left: one replica each, then a second on one of them');
  }
});
