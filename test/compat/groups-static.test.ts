/**
 * Static membership (KIP-345, issue 4 point 4) with the librdkafka clients: kcat and
 * confluent-kafka-python, each member with its own group.instance.id. (kafka-python 2.0 and
 * KafkaJS 2.2.4 have no static membership.)
 *
 * Three static members share a 6-partition topic. One is SIGKILLed and started again with the
 * same group.instance.id well within its 6-second session. It comes back under a new member id
 * and must get its old partitions back without a rebalance: the other two members keep their
 * member ids and assignment, and (for confluent-kafka-python, which reports its callbacks) see
 * no revoke and no new assignment — also after the old member's session timeout has passed,
 * which must not expire the member that took its place.
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
    const before = await waitFor('3 static members balanced', 45_000, async () => (isBalanced(await describe(), 3, PARTITIONS) ? last : undefined), () => summarize(last));
    // Let the members settle (a late metadata refresh may still cause one more rebalance).
    await new Promise((r) => setTimeout(r, 2500));
    const settled = await describe();
    assert.ok(isBalanced(settled, 3, PARTITIONS), summarize(settled));
    void before;
    const eventsBefore = members.map((m) => events(m).length);

    // member ids carry the group.instance.id as their prefix (Kafka's format).
    const ownerOf = (g: DescribedGroup, instance: string) => g.members.find((m) => m.memberId.startsWith(`${instance}-`));
    const old0 = ownerOf(settled, 'instance-0');
    assert.ok(old0 !== undefined, `member ids are prefixed with the instance id: ${summarize(settled)}`);

    await members[0]!.kill('SIGKILL');
    const killedAt = Date.now();
    const restarted = startMember(t, client, `${client}-0b`, broker.bootstrap, group, topic, 'instance-0');
    const back = await waitFor('the restarted static member to own its partitions again', 20_000, async () => {
      const g = await describe();
      const m = ownerOf(g, 'instance-0');
      return m !== undefined && m.memberId !== old0.memberId && m.partitions.length > 0 && isBalanced(g, 3, PARTITIONS) ? g : undefined;
    }, () => summarize(last));
    const rejoinMs = Date.now() - killedAt;
    assert.ok(rejoinMs < 6000, `rejoined within the session timeout (${rejoinMs} ms)`);
    assert.deepEqual(ownerOf(back, 'instance-0')!.partitions, old0.partitions, 'same partitions as before the restart');
    for (const instance of ['instance-1', 'instance-2']) {
      assert.deepEqual(ownerOf(back, instance), ownerOf(settled, instance), `${instance} keeps its member id and partitions`);
    }

    // Past the old member's session timeout: still no rebalance, nobody expired.
    await new Promise((r) => setTimeout(r, Math.max(0, 7500 - (Date.now() - killedAt))));
    const later = await describe();
    assert.deepEqual(later.members.map((m) => [m.memberId, m.partitions]).sort(), back.members.map((m) => [m.memberId, m.partitions]).sort(), `no rebalance: ${summarize(later)}`);
    assert.equal(later.state, 'Stable');
    if (client === 'confluent') {
      assert.deepEqual([1, 2].map((i) => events(members[i]!).length), [eventsBefore[1], eventsBefore[2]], 'the other members saw no revoke and no assignment');
      assert.deepEqual(events(restarted), [`ASSIGNED ${old0.partitions.join(',')}`]);
    }
    await restarted.kill('SIGKILL');
    for (const m of members) await m.kill('SIGKILL');
  });
}
