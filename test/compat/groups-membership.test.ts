/**
 * Consumer groups with real clients (issue 4, point 1). For each of kcat (`-G`, librdkafka),
 * confluent-kafka-python, kafka-python and KafkaJS: three members in separate processes on a
 * 6-partition topic. The broker's DescribeGroups must show every partition owned by exactly one
 * member; after one member is SIGKILLed (it sends no LeaveGroup) its partitions must move to the
 * two others once its 3-second session runs out (the test brokers allow sessions that short,
 * so the suite need not wait out Kafka's 6-second minimum five times); when it comes back it must rejoin and own
 * partitions again. Records produced before the kill are all consumed by somebody.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { requirePythonModule, requireTool, startTestBroker } from './kit.js';
import { describeGroup, isBalanced, startMember, summarize, waitFor, type DescribedGroup, type GroupClient } from './groups-helpers.js';

const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 3000;
const memberEnv = { SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) };

const CLIENTS: { client: GroupClient; check: () => void; strategy?: string }[] = [
  { client: 'kcat', check: () => requireTool('kcat') },
  { client: 'confluent', check: () => requirePythonModule('confluent_kafka') },
  // Incremental (KIP-429) rebalancing: the coordinator runs the same classic protocol, and the
  // members revoke and assign only what moves, over two rebalances.
  { client: 'confluent', check: () => requirePythonModule('confluent_kafka'), strategy: 'cooperative-sticky' },
  { client: 'kafka-python', check: () => requirePythonModule('kafka') },
  { client: 'kafkajs', check: () => {} },
];

for (const { client, check, strategy } of CLIENTS) {
  const label = strategy === undefined ? client : `${client} (${strategy})`;
  test(`${label}: three members share 6 partitions, a SIGKILLed member's partitions move, and it rejoins`, { timeout: 90_000 }, async (t) => {
    check();
    const broker = await startTestBroker(t, { 'group.initial.rebalance.delay.ms': 0 });
    const kafka = new Kafka({ clientId: 'groups-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    const topic = `members-${client}${strategy === undefined ? '' : '-coop'}`;
    const group = `group-${topic}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
    const producer = kafka.producer();
    await producer.connect();
    t.after(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % PARTITIONS, value: `v${i}` })) });

    let last: DescribedGroup | undefined;
    const balanced = (count: number) => waitFor(`${count} members balanced`, 45_000, async () => {
      last = await describeGroup(admin, group, topic);
      return isBalanced(last, count, PARTITIONS) ? last : undefined;
    }, () => summarize(last));

    const members = [0, 1, 2].map((i) => startMember(t, client, `${client}-${i}`, broker.bootstrap, group, topic, undefined, strategy, memberEnv));
    const three = await balanced(3);
    // Every member owns at least one partition, so the SIGKILLed one surely had some to hand over.
    assert.ok(three.members.every((m) => m.partitions.length === 2), `6 partitions over 3 members gives 2 each: ${summarize(three)}`);
    if (strategy !== undefined) assert.equal(three.protocol, strategy);
    await waitFor('all 60 records consumed', 30_000, () => {
      const seen = new Set(members.flatMap((m) => m.lines.filter((l) => l.startsWith('RECORD '))));
      return seen.size >= 60 ? true : undefined;
    });

    const killedAt = Date.now();
    await members[0]!.kill('SIGKILL');
    const two = await balanced(2);
    const movedMs = Date.now() - killedAt;
    const before = new Set(three.members.map((m) => m.memberId));
    assert.ok(two.members.every((m) => before.has(m.memberId)), 'the survivors keep their member ids');
    // The session timeout bounds detection; the survivors then need a heartbeat and a rejoin.
    assert.ok(movedMs < SESSION_TIMEOUT_MS + 8000, `partitions moved after ${movedMs} ms`);
    t.diagnostic(`${label}: partitions of the killed member moved after ${movedMs} ms`);

    const restarted = startMember(t, client, `${client}-0b`, broker.bootstrap, group, topic, undefined, strategy, memberEnv);
    const back = await balanced(3);
    const newcomer = back.members.filter((m) => !before.has(m.memberId));
    assert.equal(newcomer.length, 1, `exactly one new member: ${summarize(back)}`);
    assert.ok(newcomer[0]!.partitions.length > 0);
    await restarted.kill('SIGKILL');
    for (const m of members) await m.kill('SIGKILL');
  });
}
