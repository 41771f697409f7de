/**
 * Committed offsets and group state survive a broker SIGKILL (issue 4, point 3).
 *
 * The broker runs as a child process. Two groups commit offsets: "live", whose KafkaJS
 * consumer stays connected through the crash, and "parked", whose offsets the admin client
 * sets while the group is empty. The broker is SIGKILLed (no clean shutdown, nothing flushed
 * beyond what each acknowledged commit already wrote) and started again on the same port and
 * data directory. Afterwards OffsetFetch returns the same offsets for both groups,
 * DescribeGroups shows both groups as they were (the live one with the same member, loaded
 * from __consumer_offsets), the live consumer carries on, and a new consumer of the parked
 * group starts every partition exactly at the offset set before the crash.
 *
 * Its companion, groups-durability.test.ts, does the same with static members whose sessions
 * the restart must fit in: that one runs in the serial lane, this one (no time bound of its own
 * beyond its generous waits) in the parallel lane.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, spawnBroker, tempDir } from './kit.js';
import { waitFor } from './groups-helpers.js';

const PARTITIONS = 3;

test('committed offsets and group metadata survive a broker SIGKILL and restart', { timeout: 120_000 }, async (t) => {
  const dataDir = tempDir(t);
  const port = await freePort();
  const overrides = { 'group.initial.rebalance.delay.ms': 0 };
  const first = await spawnBroker(t, { dataDir, port, overrides });
  const kafka = new Kafka({ clientId: 'groups-durability', brokers: [first.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 1000 } });
  const topic = 'durable';

  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const produceRound = (round: number) =>
    producer.send({ topic, acks: -1, messages: Array.from({ length: 10 * PARTITIONS }, (_, i) => ({ partition: i % PARTITIONS, value: `r${round}-${i}` })) });
  await produceRound(1);

  // "live": one consumer that commits after every batch, and stays connected.
  const liveSeen: { partition: number; offset: number }[] = [];
  const live = kafka.consumer({ groupId: 'live', sessionTimeout: 30_000, heartbeatInterval: 1000, maxWaitTimeInMs: 200, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 1000 } });
  t.after(() => live.disconnect());
  await live.connect();
  await live.subscribe({ topic, fromBeginning: true });
  await live.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) liveSeen.push({ partition: batch.partition, offset: Number(m.offset) });
      await live.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
    },
  });
  const offsetsOf = async (a: typeof admin, groupId: string) => {
    const [r] = await a.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(r!.partitions.map((p) => [p.partition, Number(p.offset)]));
  };
  const allTen = Object.fromEntries(Array.from({ length: PARTITIONS }, (_, p) => [p, 10]));
  await waitFor('live group committed 10 per partition', 20_000, async () => {
    const o = await offsetsOf(admin, 'live');
    return JSON.stringify(o) === JSON.stringify(allTen) ? o : undefined;
  });

  // "parked": offsets set by the admin client while the group has no members.
  const parkedOffsets = { 0: 3, 1: 5, 2: 7 };
  await admin.setOffsets({ groupId: 'parked', topic, partitions: Object.entries(parkedOffsets).map(([p, o]) => ({ partition: Number(p), offset: String(o) })) });
  assert.deepEqual(await offsetsOf(admin, 'parked'), parkedOffsets);
  const [liveBefore] = (await admin.describeGroups(['live'])).groups;
  assert.equal(liveBefore!.state, 'Stable');
  assert.equal(liveBefore!.members.length, 1);
  await admin.disconnect();

  await first.kill('SIGKILL');
  const second = await spawnBroker(t, { dataDir, port, overrides });
  const after = kafka.admin();
  await after.connect();
  t.after(() => after.disconnect());

  assert.deepEqual(await waitFor('offsets readable after restart', 20_000, async () => {
    try { return await offsetsOf(after, 'parked'); } catch { return undefined; }
  }), parkedOffsets);
  assert.deepEqual(await offsetsOf(after, 'live'), allTen);
  // The live group is described once Stable: outside Stable, Kafka (and so Tributary) names
  // no protocol (GroupCoordinator.NoProtocol), and on a loaded machine the restart can take
  // longer than the member's session, so its consumer may rejoin first.
  const groups = await waitFor('the live group Stable after the restart', 30_000, async () => {
    const described = (await after.describeGroups(['live', 'parked'])).groups;
    return described.find((g) => g.groupId === 'live')?.state === 'Stable' ? described : undefined;
  });
  const liveAfter = groups.find((g) => g.groupId === 'live')!;
  const parkedAfter = groups.find((g) => g.groupId === 'parked')!;
  assert.equal(parkedAfter.state, 'Empty');
  assert.equal(liveAfter.protocolType, 'consumer');
  assert.equal(liveAfter.protocol, liveBefore!.protocol);
  // The member was loaded from the log; its live consumer keeps heartbeating under the same id.
  assert.deepEqual(liveAfter.members.map((m) => m.memberId), liveBefore!.members.map((m) => m.memberId));
  const listed = (await after.listGroups()).groups.map((g) => g.groupId).sort();
  assert.deepEqual(listed, ['live', 'parked']);

  // The live consumer carries on after the restart: it reads round 2 and commits 20.
  await produceRound(2);
  const allTwenty = Object.fromEntries(Array.from({ length: PARTITIONS }, (_, p) => [p, 20]));
  await waitFor('live group committed 20 per partition after the restart', 40_000, async () => {
    const o = await offsetsOf(after, 'live');
    return JSON.stringify(o) === JSON.stringify(allTwenty) ? o : undefined;
  });
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = liveSeen.filter((r) => r.partition === p).map((r) => r.offset);
    assert.deepEqual([...new Set(offsets)].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), `partition ${p}`);
  }
  await live.disconnect();

  // A new consumer of "parked" starts exactly where the admin client put the group.
  const firstOffsets = new Map<number, number>();
  const parked = kafka.consumer({ groupId: 'parked', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  t.after(() => parked.disconnect());
  await parked.connect();
  await parked.subscribe({ topic, fromBeginning: true });
  await parked.run({ autoCommit: false, eachMessage: async ({ partition, message }) => { if (!firstOffsets.has(partition)) firstOffsets.set(partition, Number(message.offset)); } });
  await waitFor('parked consumer reads every partition', 30_000, () => (firstOffsets.size === PARTITIONS ? true : undefined));
  assert.deepEqual(Object.fromEntries(firstOffsets), parkedOffsets);
  await parked.disconnect();
  await second.kill('SIGKILL');
});
