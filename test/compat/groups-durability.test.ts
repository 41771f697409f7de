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
 * A second test does the same with a running group of three static confluent-kafka-python
 * members: after the broker's SIGKILL and restart the group is loaded with the same members
 * and assignment, and the members carry on without any rebalance (no revoke, no assignment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, requirePythonModule, spawnBroker, tempDir } from './kit.js';
import { describeGroup, isBalanced, startMember, summarize, waitFor, type DescribedGroup } from './groups-helpers.js';

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
  const { groups } = await after.describeGroups(['live', 'parked']);
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

test('a static group survives a broker SIGKILL and restart without a rebalance', { timeout: 90_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = tempDir(t);
  const port = await freePort();
  const overrides = { 'group.initial.rebalance.delay.ms': 0 };
  const first = await spawnBroker(t, { dataDir, port, overrides });
  const kafka = new Kafka({ clientId: 'groups-durability-static', brokers: [first.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = 'static-durable';
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true }), true);
  // librdkafka ends a session on its own when no heartbeat has succeeded for
  // session.timeout.ms: it then revokes and rejoins whatever the broker did. Its reconnect
  // backoff doubles up to 10 s, so a restart that takes 3 s on a busy machine can already
  // cost a 6 s session. A 10 s session and a 500 ms backoff cap keep this test about the
  // broker: it must keep the members, and answer their heartbeats, after its restart.
  const sessionTimeoutMs = 10_000;
  const memberEnv = { SESSION_TIMEOUT_MS: String(sessionTimeoutMs), RECONNECT_BACKOFF_MAX_MS: '500' };
  const members = [0, 1, 2].map((i) => startMember(t, 'confluent', `static-${i}`, first.bootstrap, 'static-durable', topic, `instance-${i}`, undefined, memberEnv));
  let last: DescribedGroup | undefined;
  await waitFor('3 static members balanced', 45_000, async () => {
    last = await describeGroup(admin, 'static-durable', topic);
    return isBalanced(last, 3, 6) ? last : undefined;
  }, () => summarize(last));
  await new Promise((r) => setTimeout(r, 2000));
  const before = await describeGroup(admin, 'static-durable', topic);
  assert.ok(isBalanced(before, 3, 6), summarize(before));
  const eventsBefore = members.map((m) => m.lines.filter((l) => !l.startsWith('RECORD')).length);
  await admin.disconnect();

  await first.kill('SIGKILL');
  const killedAt = Date.now();
  const second = await spawnBroker(t, { dataDir, port, overrides });
  t.diagnostic(`broker restarted in ${Date.now() - killedAt} ms`);
  const after = kafka.admin();
  await after.connect();
  t.after(() => after.disconnect());
  const shape = (g: DescribedGroup) => `${g.state} ${g.members.map((m) => `${m.memberId}:${m.partitions.join(',')}`).sort().join(' ')}`;
  assert.equal(shape(await describeGroup(after, 'static-durable', topic)), shape(before), 'loaded from __consumer_offsets as it was');
  // Past the session timeout. A static member that lost its connection may rejoin without
  // its old member id; Kafka then gives it a new id (`<instance>-<uuid>`) and keeps its
  // assignment without a rebalance. So members are compared by instance id, and the
  // clients' own callbacks (below) prove there was no revoke and no new assignment.
  const byInstance = (g: DescribedGroup) => `${g.state} ${g.members.map((m) => `${m.memberId.replace(/-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, '')}:${m.partitions.join(',')}`).sort().join(' ')}`;
  await new Promise((r) => setTimeout(r, sessionTimeoutMs + 2000));
  const groupAfter = byInstance(await describeGroup(after, 'static-durable', topic));
  const eventsAfter = members.map((m) => m.lines.filter((l) => !l.startsWith('RECORD')).length);
  if (groupAfter !== byInstance(before) || JSON.stringify(eventsAfter) !== JSON.stringify(eventsBefore)) {
    // The members' own account (set RDKAFKA_DEBUG=cgrp for librdkafka's group log).
    for (const m of members) t.diagnostic(`${m.name}: ${m.lines.filter((l) => !l.startsWith('RECORD')).join(' | ')}\n${m.stderr().slice(-20_000)}`);
  }
  assert.equal(groupAfter, byInstance(before), 'no rebalance after the restart');
  assert.deepEqual(eventsAfter, eventsBefore, 'no revoke and no assignment');
  for (const m of members) await m.kill('SIGKILL');
  await second.kill('SIGKILL');
});
