/**
 * KafkaJS 2.2.4 against a real in-process broker: create a topic with the admin client,
 * produce RECORD_COUNT (10,000; 100,000 in long mode) keyed records with a header (no compression, and GZIP, the only codec
 * KafkaJS ships without plugins), consume them in a group and check they are identical,
 * in order, at contiguous offsets. Also: ListOffsets by timestamp through the admin
 * client, and seeking to an arbitrary offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, Kafka, logLevel, type Message } from 'kafkajs';
import { startTestBroker } from './kit.js';
import { assertRoundTrip, HEADER_KEY, HEADER_VALUE, keyOf, RECORD_COUNT, valueOf, type ConsumedRecord } from './records.js';

const CODECS = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
] as const;

test(`KafkaJS round-trips ${RECORD_COUNT.toLocaleString('en-US')} keyed records with headers (none, gzip)`, { timeout: 300_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());

  for (const [name, compression] of CODECS) {
    const topic = `kafkajs-${name}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    for (let start = 0; start < RECORD_COUNT; start += 5000) {
      const messages: Message[] = [];
      for (let i = start; i < Math.min(start + 5000, RECORD_COUNT); i++) {
        messages.push({ key: keyOf(i), value: valueOf(i), headers: { [HEADER_KEY]: HEADER_VALUE } });
      }
      await producer.send({ topic, compression, acks: -1, messages });
    }

    const consumer = kafka.consumer({ groupId: `compat-${topic}`, sessionTimeout: 10_000, rebalanceTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const records: ConsumedRecord[] = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            records.push({ key: m.key!.toString(), value: m.value!.toString(), offset: Number(m.offset), headers: { [HEADER_KEY]: String(m.headers?.[HEADER_KEY] ?? '') } });
          }
          if (records.length >= RECORD_COUNT) resolve();
        },
      });
    });
    // The deadline's timer is cleared once the race is over: left running, it kept this
    // file's process alive for two minutes after its last test.
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((_, reject) => { deadline = setTimeout(() => reject(new Error(`only ${records.length} records consumed`)), 120_000); })])
      .finally(() => clearTimeout(deadline));
    await consumer.disconnect();
    assertRoundTrip(records);
  }
});

test('KafkaJS: offsets by timestamp, earliest/latest, and consuming from an arbitrary offset', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const topic = 'kafkajs-times';
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const base = Date.now() - 1_000_000;
  // 100 records, one per second of (past) timestamps.
  await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ key: keyOf(i), value: valueOf(i), timestamp: String(base + i * 1000) })) });

  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, base + 42_500);
  assert.deepEqual(byTime, [{ partition: 0, offset: '43' }]);
  const exact = await admin.fetchTopicOffsetsByTimestamp(topic, base + 42_000);
  assert.deepEqual(exact, [{ partition: 0, offset: '42' }]);
  const future = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3_600_000);
  assert.deepEqual(future, [{ partition: 0, offset: '100' }], 'a timestamp past every record answers the latest offset (KafkaJS maps -1 to it)');
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]), [[0, '0', '100']]);

  const consumer = kafka.consumer({ groupId: 'seeker', sessionTimeout: 10_000 });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: number[] = [];
  const got = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(Number(message.offset));
        if (seen.length >= 10) resolve();
      },
    });
  });
  consumer.seek({ topic, partition: 0, offset: '90' });
  await got;
  assert.deepEqual(seen.slice(0, 10), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
});
