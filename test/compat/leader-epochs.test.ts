/**
 * librdkafka (confluent-kafka-python from Debian) against a broker that advertises
 * OffsetForLeaderEpoch v0-4: it keeps consuming, in order and without gaps, while the
 * partition's leader epoch goes up under it (a leader election that keeps this broker as
 * leader, as a controller would write it) and after a seek back. librdkafka 2.1+ sends
 * OffsetForLeaderEpoch on both occasions (KIP-320); the test reports how many it sent
 * (librdkafka's own protocol debug log), so a newer librdkafka exercises the handler here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, startBroker } from '@tributary/broker';
import { DEBIAN_PYTHON, REPO_ROOT, TEST_BROKER_DEFAULTS, requirePythonModule, run } from './kit.js';

const TOPIC = 'epochs';
const ROUNDS = 5;
const PER_ROUND = 100;
const COUNT = (ROUNDS + 1) * PER_ROUND;
const SEEK_TO = COUNT / 2;

test('librdkafka consumes across leader epoch changes and a seek with OffsetForLeaderEpoch advertised', { timeout: 300_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-epochs-'));
  const broker = await startBroker({ dataDir, host: '127.0.0.1', port: 0, config: { ...TEST_BROKER_DEFAULTS }, logger: createLogger({ level: 'warn' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const bootstrap = `${broker.host}:${broker.port}`;
  const kafka = new Kafka({ clientId: 'compat-epochs', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  assert.equal(await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true }), true);
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const produceRound = async (round: number) => {
    const messages = Array.from({ length: PER_ROUND }, (_, i) => ({ value: `v${round * PER_ROUND + i}` }));
    await producer.send({ topic: TOPIC, acks: -1, messages });
  };
  await produceRound(0);

  const consumer = run(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/compat/py/confluent_epochs.py'), bootstrap, TOPIC, String(COUNT), String(SEEK_TO)], {
    timeoutMs: 240_000,
  });
  const metadata = broker.services.metadata;
  for (let round = 1; round <= ROUNDS; round++) {
    await new Promise((r) => setTimeout(r, 300));
    const state = metadata.topic(TOPIC)!.partitions[0]!;
    await metadata.updatePartition({ topic: TOPIC, partition: 0, expectedPartitionEpoch: state.partitionEpoch, bumpLeaderEpoch: true });
    await produceRound(round);
  }
  const r = await consumer;
  assert.equal(r.code, 0, `consumer exited ${r.code}: ${r.stderr.slice(-3000)}`);

  const lines = r.stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  const pass1 = lines.filter((l) => l[0] === '1').map((l) => [Number(l[1]), l[2]]);
  const pass2 = lines.filter((l) => l[0] === '2').map((l) => [Number(l[1]), l[2]]);
  assert.deepEqual(pass1, Array.from({ length: COUNT }, (_, i) => [i, `v${i}`]), 'every record once, in order, across the epoch changes');
  assert.deepEqual(pass2, Array.from({ length: COUNT - SEEK_TO }, (_, i) => [SEEK_TO + i, `v${SEEK_TO + i}`]), 'after the seek, from the seek offset on');
  // The log recorded each epoch that wrote (rounds 0..ROUNDS), as the checkpoint shows.
  const cache = broker.services.logManager.getLog(TOPIC, 0)!.leaderEpochCache;
  assert.deepEqual(cache.epochEntries().map((e) => e.epoch), Array.from({ length: ROUNDS + 1 }, (_, i) => i));
  assert.deepEqual(cache.epochEntries().map((e) => e.startOffset), Array.from({ length: ROUNDS + 1 }, (_, i) => i * PER_ROUND));
  // librdkafka 2.0.2 (Debian 12) predates KIP-320 and sends none; 2.1+ would.
  t.diagnostic(`librdkafka's protocol log mentions OffsetForLeaderEpoch ${(r.stderr.match(/OffsetForLeaderEpoch/g) ?? []).length} times`);
});
