/**
 * read_committed (issue 17, data side): transactional batches and COMMIT/ABORT markers
 * written straight into a partition (the transaction coordinator is another branch's
 * work; markers go through ReplicaManager.appendTxnMarker, the entry point it calls), then read by
 * a raw Fetch / ListOffsets and by confluent-kafka-python (librdkafka) with
 * isolation.level=read_committed and read_uncommitted.
 *
 * Layout of partition 0:
 *   0 p0 (plain) | 1-2 a1 a2 (txn A, pid 100) | 3 b1 (txn B, pid 200) | 4 ABORT A |
 *   5 COMMIT B | 6 c1 (txn C, pid 300, left open) | 7 p1 (plain)
 * read_committed sees p0 b1 (the LSO stops at C's first offset 6); once C commits, c1 p1.
 * read_uncommitted sees every data record, the aborted ones included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { encodeBatchSync } from '@tributary/protocol';
import { createLogger, startBroker } from '@tributary/broker';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { TEST_BROKER_DEFAULTS, requirePythonModule, runPython, waitFor } from './kit.js';

const CONSUME = `
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, isolation, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rc-" + isolation, "isolation.level": isolation,
              "enable.auto.commit": False, "enable.partition.eof": False})
c.assign([TopicPartition(topic, 0, 0)])
seen = []
idle = 0
while idle < 15 and len(seen) < expected:
    m = c.poll(0.2)
    if m is None:
        idle += 1
        continue
    if m.error():
        sys.exit("consume error: %s" % m.error())
    idle = 0
    seen.append("%s@%d" % (m.value().decode(), m.offset()))
# Anything past the expected count would show as extra values.
m = c.poll(1.0)
if m is not None and not m.error():
    seen.append("%s@%d" % (m.value().decode(), m.offset()))
c.close()
print(" ".join(seen))
`;

test('read_committed hides aborted and open transactions; read_uncommitted sees them with aborted_transactions', { timeout: 120_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-txnread-'));
  const broker = await startBroker({ dataDir, host: '127.0.0.1', port: 0, config: { ...TEST_BROKER_DEFAULTS }, logger: createLogger({ level: 'warn' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const bootstrap = `${broker.host}:${broker.port}`;
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 4, {
    topics: [{ name: 'txn', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, 0);
  const log = await waitFor('the log of txn-0', 10_000, () => broker.services.logManager.getLog('txn', 0));

  const append = (producerId: number, seq: number, values: string[], transactional: boolean) => {
    const batch = encodeBatchSync({
      producerId, producerEpoch: producerId < 0 ? -1 : 0, baseSequence: producerId < 0 ? -1 : seq, transactional,
      records: values.map((v) => ({ value: Buffer.from(v) })),
    });
    log.append(batch, { leaderEpoch: 0 });
    broker.services.replicaManager.appended(log);
  };
  const marker = async (producerId: number, commit: boolean) => {
    const r = await broker.services.replicaManager.appendTxnMarker('txn', 0, producerId, 0, 0, commit);
    assert.equal(r.errorCode, 0, r.errorMessage ?? '');
  };
  append(-1, 0, ['p0'], false);
  append(100, 0, ['a1', 'a2'], true);
  append(200, 0, ['b1'], true);
  await marker(100, false);
  await marker(200, true);
  append(300, 0, ['c1'], true);
  append(-1, 0, ['p1'], false);
  assert.equal(log.logEndOffset, 8);
  assert.equal(log.highWatermark, 8);
  assert.equal(log.lastStableOffset, 6);

  // A zombie coordinator and a fenced producer epoch are refused.
  assert.equal((await broker.services.replicaManager.appendTxnMarker('txn', 0, 100, 0, -1, true)).errorCode, 52 /* TRANSACTION_COORDINATOR_FENCED */);
  assert.equal((await broker.services.replicaManager.appendTxnMarker('missing', 0, 100, 0, 0, true)).errorCode, 3 /* UNKNOWN_TOPIC_OR_PARTITION */);

  const fetch = (isolationLevel: number) => client.request('Fetch', 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'txn', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const committed = (await fetch(1)).responses[0]!.partitions[0]!;
  assert.equal(committed.errorCode, 0);
  assert.equal(committed.highWatermark, 8);
  assert.equal(committed.lastStableOffset, 6);
  assert.deepEqual(committed.abortedTransactions, [{ producerId: 100, firstOffset: 1 }]);
  const uncommitted = (await fetch(0)).responses[0]!.partitions[0]!;
  assert.equal(uncommitted.lastStableOffset, 6);
  assert.equal(uncommitted.abortedTransactions, null);
  assert.ok(uncommitted.records!.length > committed.records!.length, 'read_uncommitted reads past the LSO');

  const latest = async (isolationLevel: number) => (await client.request('ListOffsets', 5, {
    replicaId: -1, isolationLevel, topics: [{ name: 'txn', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }],
  })).topics[0]!.partitions[0]!.offset;
  assert.equal(await latest(1), 6);
  assert.equal(await latest(0), 8);

  const producers = await client.request('DescribeProducers', 0, { topics: [{ name: 'txn', partitionIndexes: [0, 9] }] });
  const described = producers.topics[0]!.partitions;
  assert.equal(described[0]!.errorCode, 0);
  assert.deepEqual(described[0]!.activeProducers.map((p) => [p.producerId, p.currentTxnStartOffset, p.coordinatorEpoch]).sort((a, b) => a[0]! - b[0]!),
    [[100, -1, 0], [200, -1, 0], [300, 6, -1]]);
  assert.equal(described[1]!.errorCode, 3);

  const consume = async (isolation: string, expected: number) => {
    const r = await runPython(CONSUME, [bootstrap, 'txn', isolation, String(expected)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.toString().trim();
  };
  assert.equal(await consume('read_committed', 2), 'p0@0 b1@3');
  assert.equal(await consume('read_uncommitted', 6), 'p0@0 a1@1 a2@2 b1@3 c1@6 p1@7');
  await marker(300, true);
  assert.equal(log.lastStableOffset, 9);
  assert.equal(await consume('read_committed', 4), 'p0@0 b1@3 c1@6 p1@7');

  // KafkaJS consumers read committed by default (readUncommitted: false).
  const kafka = new Kafka({ clientId: 'txnread', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  for (const readUncommitted of [false, true]) {
    const consumer = kafka.consumer({ groupId: `kafkajs-${readUncommitted}`, readUncommitted, sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'txn', fromBeginning: true });
    const seen: string[] = [];
    const expected = readUncommitted ? 6 : 4;
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(`${message.value!.toString()}@${message.offset}`);
          if (seen.length >= expected) resolve();
        },
      });
    });
    // A moment for anything beyond the expected records to show up.
    await new Promise((r) => setTimeout(r, 500));
    await consumer.disconnect();
    assert.equal(seen.join(' '), readUncommitted ? 'p0@0 a1@1 a2@2 b1@3 c1@6 p1@7' : 'p0@0 b1@3 c1@6 p1@7', `KafkaJS readUncommitted=${readUncommitted}`);
  }
});
