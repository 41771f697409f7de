/**
 * At-least-once delivery through rebalances, and resuming at committed offsets (issue 4,
 * point 2), with KafkaJS 2.2.4 consumers in this process.
 *
 * A producer writes continuously to a 6-partition topic while consumers of one group join and
 * leave again and again (every join and every LeaveGroup is a rebalance). Auto-commit is off:
 * each consumer commits a batch's next offset only after it has processed (recorded) the batch,
 * so a commit rejected by a rebalance only means the batch is delivered again. At the end every
 * acknowledged record has been seen at least once. Then all consumers stop cleanly while the
 * producer still runs, more records are produced, and a fresh set of consumers must start each
 * partition exactly at the offset the admin client's OffsetFetch reports as committed.
 *
 * The same again with confluent-kafka-python and kafka-python members in separate processes,
 * where the churn also SIGKILLs members in the middle of their work (their partitions move
 * only when their session expires, and whatever they had not committed is read again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { requirePythonModule, startTestBroker } from './kit.js';
import { startMember, waitFor, type MemberProcess } from './groups-helpers.js';

const PARTITIONS = 6;
/**
 * The Python members' session: a SIGKILLed member's partitions move once it runs out. The test
 * brokers allow 1000 ms and up (kit.ts), so the churn need not wait out Kafka's 6 s minimum.
 */
const SESSION_TIMEOUT_MS = 3000;

test('KafkaJS: every record is seen at least once through repeated rebalances, and a restart resumes at the committed offsets', { timeout: 150_000 }, async (t) => {
  const broker = await startTestBroker(t, { 'group.initial.rebalance.delay.ms': 0 });
  const kafka = new Kafka({ clientId: 'groups-delivery', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const topic = 'delivery';
  const groupId = 'delivery-group';
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);

  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  /** Acknowledged records, as "partition:offset". */
  const produced = new Set<string>();
  let sequence = 0;
  let producing = true;
  const producerLoop = (async () => {
    while (producing) {
      const messages = Array.from({ length: 30 }, (_, i) => ({ partition: (sequence + i) % PARTITIONS, value: `v${sequence + i}` }));
      sequence += messages.length;
      const meta = await producer.send({ topic, acks: -1, messages });
      for (const r of meta) {
        const count = messages.filter((m) => m.partition === r.partition).length;
        for (let o = Number(r.baseOffset); o < Number(r.baseOffset) + count; o++) produced.add(`${r.partition}:${o}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  /** Records processed by any consumer, as "partition:offset". */
  const seen = new Set<string>();
  let deliveries = 0;
  let rejectedCommits = 0;
  const firstOffsets = new Map<number, number>();
  const consumers = new Set<Consumer>();
  const startConsumer = async (onFirst?: (partition: number, offset: number) => void) => {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 });
    consumers.add(consumer);
    t.after(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        for (const m of batch.messages) {
          onFirst?.(batch.partition, Number(m.offset));
          seen.add(`${batch.partition}:${m.offset}`);
          deliveries++;
        }
        const next = Number(batch.lastOffset()) + 1;
        try {
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(next) }]);
        } catch {
          // A rebalance took the partition away before the commit: its new owner reads the
          // batch again from the last committed offset. That is at-least-once, not a loss.
          rejectedCommits++;
        }
      },
    });
    return consumer;
  };
  const stopConsumer = async (c: Consumer) => {
    consumers.delete(c);
    await c.disconnect();
  };

  // Churn: members join and leave while the producer runs.
  const c1 = await startConsumer();
  const c2 = await startConsumer();
  const pause = () => new Promise((r) => setTimeout(r, 1500));
  await pause();
  const c3 = await startConsumer();
  await pause();
  await stopConsumer(c1);
  await pause();
  const c4 = await startConsumer();
  await pause();
  await stopConsumer(c2);
  await pause();
  await startConsumer();
  await pause();
  await stopConsumer(c3);
  await pause();
  void c4;

  producing = false;
  await producerLoop;
  assert.ok(produced.size > 1000, `only ${produced.size} records produced`);
  await waitFor('every produced record consumed', 30_000, () => ([...produced].every((k) => seen.has(k)) ? true : undefined),
    () => `${[...produced].filter((k) => !seen.has(k)).length} of ${produced.size} missing`);
  t.diagnostic(`produced ${produced.size}, delivered ${deliveries} (${deliveries - seen.size} redeliveries), ${rejectedCommits} commits rejected by rebalances`);

  // Clean stop of every consumer while records keep arriving, then a few more per partition.
  producing = true;
  const tail = (async () => {
    while (producing) {
      const messages = Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `tail${sequence++}` }));
      const meta = await producer.send({ topic, acks: -1, messages });
      for (const r of meta) produced.add(`${r.partition}:${r.baseOffset}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  for (const c of [...consumers]) await stopConsumer(c);
  producing = false;
  await tail;
  const meta = await producer.send({ topic, acks: -1, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: 'after-stop' })) });
  for (const r of meta) produced.add(`${r.partition}:${r.baseOffset}`);

  const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = new Map(fetched!.partitions.map((p) => [p.partition, Number(p.offset)]));
  assert.equal(committed.size, PARTITIONS);
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  for (let p = 0; p < PARTITIONS; p++) {
    const c = committed.get(p)!;
    assert.ok(c >= 0 && c < ends.get(p)!, `partition ${p}: committed ${c}, log end ${ends.get(p)}`);
    // Everything below the committed offset was processed before it was committed.
    for (let o = 0; o < c; o++) assert.ok(seen.has(`${p}:${o}`), `partition ${p} offset ${o} committed but never seen`);
  }

  // Restart: fresh consumers in the same group start exactly at the committed offsets.
  await startConsumer((p, o) => { if (!firstOffsets.has(p)) firstOffsets.set(p, o); });
  await startConsumer((p, o) => { if (!firstOffsets.has(p)) firstOffsets.set(p, o); });
  await waitFor('every partition consumed after the restart', 30_000, () => (firstOffsets.size === PARTITIONS ? true : undefined));
  for (let p = 0; p < PARTITIONS; p++) assert.equal(firstOffsets.get(p), committed.get(p), `partition ${p}: first offset after restart`);
  await waitFor('every produced record consumed after the restart', 30_000, () => ([...produced].every((k) => seen.has(k)) ? true : undefined));
  for (const c of [...consumers]) await stopConsumer(c);
});

for (const lib of ['confluent', 'kafka-python'] as const) {
  test(`${lib}: at least once through joins, clean leaves and SIGKILLs while producing, then a restart resumes at the committed offsets`, { timeout: 150_000 }, async (t) => {
    requirePythonModule(lib === 'confluent' ? 'confluent_kafka' : 'kafka');
    const broker = await startTestBroker(t, { 'group.initial.rebalance.delay.ms': 0 });
    const kafka = new Kafka({ clientId: 'groups-delivery-py', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    const topic = `delivery-${lib}`;
    const groupId = `delivery-group-${lib}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
    const producer = kafka.producer();
    await producer.connect();
    t.after(() => producer.disconnect());

    const produced = new Set<string>();
    let sequence = 0;
    const sendRound = async (perPartition: number) => {
      const messages = Array.from({ length: perPartition * PARTITIONS }, (_, i) => ({ partition: i % PARTITIONS, value: `v${sequence++}` }));
      for (const r of await producer.send({ topic, acks: -1, messages })) {
        for (let o = 0; o < perPartition; o++) produced.add(`${r.partition}:${Number(r.baseOffset) + o}`);
      }
    };
    let producing = true;
    const producerLoop = (async () => {
      while (producing) {
        await sendRound(5);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const all: MemberProcess[] = [];
    let n = 0;
    const start = () => {
      const m = startMember(t, lib, `${lib}-${n++}`, broker.bootstrap, groupId, topic, undefined, undefined, { COMMIT: '1', SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) });
      all.push(m);
      return m;
    };
    const seenBy = (members: MemberProcess[]) => new Set(members.flatMap((m) => m.lines.filter((l) => l.startsWith('RECORD ')).map((l) => l.slice(7).replace(' ', ':'))));
    const pause = (ms = 1500) => new Promise((r) => setTimeout(r, ms));

    const a = start();
    const b = start();
    await pause();
    const c = start();
    await pause();
    await a.kill('SIGKILL'); // mid-work, no LeaveGroup: its partitions move after its session
    await pause();
    const d = start();
    await pause();
    await b.kill('SIGTERM'); // clean leave
    await pause();
    start();
    await pause(SESSION_TIMEOUT_MS + 1000); // past a's session timeout
    void c;
    void d;

    producing = false;
    await producerLoop;
    assert.ok(produced.size > 500, `only ${produced.size} records produced`);
    await waitFor('every produced record consumed', 45_000, () => {
      const seen = seenBy(all);
      return [...produced].every((k) => seen.has(k)) ? true : undefined;
    }, () => { const seen = seenBy(all); return `${[...produced].filter((k) => !seen.has(k)).length} of ${produced.size} missing`; });
    const deliveries = all.reduce((sum, m) => sum + m.lines.filter((l) => l.startsWith('RECORD ')).length, 0);
    t.diagnostic(`${lib}: produced ${produced.size}, delivered ${deliveries} (${deliveries - produced.size} redeliveries)`);

    // Clean stop of every member, with records still arriving; then one more per partition.
    producing = true;
    const tail = (async () => { while (producing) { await sendRound(1); await new Promise((r) => setTimeout(r, 20)); } })();
    await pause(500);
    await Promise.all(all.map((m) => m.kill('SIGTERM')));
    producing = false;
    await tail;
    await sendRound(1);

    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map(fetched!.partitions.map((p) => [p.partition, Number(p.offset)]));
    const seenBefore = seenBy(all);
    for (let p = 0; p < PARTITIONS; p++) {
      const c = committed.get(p)!;
      assert.ok(c >= 0, `partition ${p} has a committed offset`);
      for (let o = 0; o < c; o++) assert.ok(seenBefore.has(`${p}:${o}`), `partition ${p} offset ${o} committed but never seen`);
    }

    const restarted = [start(), start()];
    await waitFor('every partition consumed after the restart', 45_000, () => {
      const firsts = new Map<number, number>();
      for (const m of restarted) {
        for (const l of m.lines) {
          if (!l.startsWith('RECORD ')) continue;
          const [p, o] = l.slice(7).split(' ').map(Number);
          if (!firsts.has(p!) || firsts.get(p!)! > o!) firsts.set(p!, o!);
        }
      }
      return firsts.size === PARTITIONS ? firsts : undefined;
    }).then((firsts) => {
      for (let p = 0; p < PARTITIONS; p++) assert.equal(firsts.get(p), committed.get(p), `partition ${p}: first offset after the restart`);
    });
    await waitFor('every produced record consumed after the restart', 30_000, () => {
      const seen = seenBy(all);
      return [...produced].every((k) => seen.has(k)) ? true : undefined;
    });
    for (const m of all) await m.kill('SIGKILL');
  });
}
