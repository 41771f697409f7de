/**
 * Static membership (KIP-345, issue 4 point 4) with the librdkafka clients: kcat and
 * confluent-kafka-python, each member with its own group.instance.id. (kafka-python 2.0 and
 * KafkaJS 2.2.4 have no static membership.)
 *
 * Three static members share a 6-partition topic. Each in turn is SIGKILLed and started again
 * with the same group.instance.id well within its 6-second session (so the group's leader is
 * among them). It comes back under a new member id and must get its old partitions back
 * without a rebalance: the other two keep their member ids and assignment, and (for
 * confluent-kafka-python, which reports its callbacks) see no revoke and no new assignment —
 * also after the old member ids' session timeouts have passed, which must not expire the
 * members that took their place. Finally a fourth member joins, and the group (whose leader
 * was replaced) really rebalances over four.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { requirePythonModule, requireTool, startTestBroker } from './kit.js';
import { describeGroup, isBalanced, startMember, summarize, waitFor, type DescribedGroup, type GroupClient, type MemberProcess } from './groups-helpers.js';

const PARTITIONS = 6;

const CLIENTS: { client: GroupClient; check: () => void }[] = [
  { client: 'kcat', check: () => requireTool('kcat') },
  { client: 'confluent', check: () => requirePythonModule('confluent_kafka') },
];

const events = (m: MemberProcess) => m.lines.filter((l) => l.startsWith('ASSIGNED') || l.startsWith('REVOKED'));

for (const { client, check } of CLIENTS) {
  test(`${client}: a static member restarted within its session gets its partitions back without a rebalance`, { timeout: 90_000 }, async (t) => {
    check();
    const broker = await startTestBroker(t, { 'group.initial.rebalance.delay.ms': 0 });
    const kafka = new Kafka({ clientId: 'groups-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    const topic = `static-${client}`;
    const group = `static-group-${client}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);

    let last: DescribedGroup | undefined;
    const describe = async () => (last = await describeGroup(admin, group, topic));
    const members = [0, 1, 2].map((i) => startMember(t, client, `${client}-${i}`, broker.bootstrap, group, topic, `instance-${i}`));
    await waitFor('3 static members balanced', 45_000, async () => (isBalanced(await describe(), 3, PARTITIONS) ? last : undefined), () => summarize(last));
    // Let the members settle (a late metadata refresh may still cause one more rebalance).
    await new Promise((r) => setTimeout(r, 2500));
    let current = await describe();
    assert.ok(isBalanced(current, 3, PARTITIONS), summarize(current));

    // Member ids carry the group.instance.id as their prefix (Kafka's format).
    const ownerOf = (g: DescribedGroup, instance: string) => g.members.find((m) => m.memberId.startsWith(`${instance}-`));
    const instances = ['instance-0', 'instance-1', 'instance-2'];
    assert.ok(instances.every((i) => ownerOf(current, i) !== undefined), `member ids are prefixed with the instance id: ${summarize(current)}`);

    // Restart every instance in turn, so that the group's leader is surely among them.
    let lastKillAt = 0;
    for (let i = 0; i < 3; i++) {
      const instance = instances[i]!;
      const old = ownerOf(current, instance)!;
      const othersBefore = members.map((m) => events(m).length);
      await members[i]!.kill('SIGKILL');
      lastKillAt = Date.now();
      members[i] = startMember(t, client, `${client}-${i}b`, broker.bootstrap, group, topic, instance);
      const back = await waitFor(`restarted ${instance} to own its partitions again`, 20_000, async () => {
        const g = await describe();
        const m = ownerOf(g, instance);
        return m !== undefined && m.memberId !== old.memberId && m.partitions.length > 0 && isBalanced(g, 3, PARTITIONS) ? g : undefined;
      }, () => summarize(last));
      const rejoinMs = Date.now() - lastKillAt;
      assert.ok(rejoinMs < 6000, `${instance} rejoined within the session timeout (${rejoinMs} ms)`);
      assert.deepEqual(ownerOf(back, instance)!.partitions, old.partitions, `${instance} gets the same partitions back`);
      for (const other of instances.filter((x) => x !== instance)) {
        assert.deepEqual(ownerOf(back, other), ownerOf(current, other), `${other} keeps its member id and partitions`);
      }
      if (client === 'confluent') {
        const others = [0, 1, 2].filter((j) => j !== i);
        assert.deepEqual(others.map((j) => events(members[j]!).length), others.map((j) => othersBefore[j]), 'the other members saw no revoke and no assignment');
        await waitFor(`${instance}'s assignment callback`, 10_000, () => (events(members[i]!).length > 0 ? true : undefined));
        assert.deepEqual(events(members[i]!), [`ASSIGNED ${old.partitions.join(',')}`]);
      }
      current = back;
    }

    // Past the old members' session timeouts: still no rebalance, nobody expired.
    await new Promise((r) => setTimeout(r, Math.max(0, 7500 - (Date.now() - lastKillAt))));
    const later = await describe();
    const shape = (g: DescribedGroup) => g.members.map((m) => `${m.memberId}:${m.partitions.join(',')}`).sort();
    assert.deepEqual(shape(later), shape(current), `no rebalance: ${summarize(later)}`);
    assert.equal(later.state, 'Stable');

    // A real rebalance still works after every member was replaced (including the leader):
    // a fourth static member joins and the partitions are spread over four.
    members.push(startMember(t, client, `${client}-3`, broker.bootstrap, group, topic, 'instance-3'));
    const four = await waitFor('4 static members balanced', 45_000, async () => (isBalanced(await describe(), 4, PARTITIONS) ? last : undefined), () => summarize(last));
    assert.ok(instances.every((i) => ownerOf(four, i) !== undefined));
    for (const m of members) await m.kill('SIGKILL');
  });
}
