// Real clients against the in-process 3-broker cluster: KafkaJS and kcat (librdkafka)
// produce with acks=all to a topic of replication factor 3, kcat consumes everything back
// from the leaders, and every replica holds the same log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { Log } from '@tributary/storage';
import { TestCluster, waitFor } from './helpers/cluster.js';

const exec = promisify(execFile);
const PARTITIONS = 3;
const PER_CLIENT = 1500;

function logBytes(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset });
  if (read.kind !== 'ok') throw new Error(`${log.topicPartition} read out of range`);
  return Buffer.concat(read.records);
}

test('KafkaJS and kcat produce acks=all to an RF=3 topic; kcat consumes it all; the three replicas are identical', { timeout: 120_000 }, async (t) => {
  await exec('kcat', ['-V']); // kcat is part of the test machine (Debian's package); a missing one fails the test.
  const cluster = await TestCluster.start(t, 3);
  const kafka = new Kafka({ clientId: 'replication-kafkajs', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  assert.equal(await admin.createTopics({ topics: [{ topic: 'rf3', numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true }), true);
  const described = await admin.fetchTopicMetadata({ topics: ['rf3'] });
  for (const p of described.topics[0]!.partitions) {
    assert.equal(p.replicas.length, 3);
    assert.equal(p.isr.length, 3);
  }

  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const sent: string[] = [];
  for (let i = 0; i < PER_CLIENT; i += 100) {
    const messages = [];
    for (let j = i; j < i + 100; j++) {
      messages.push({ key: `js-${j}`, value: `kafkajs value ${j}` });
      sent.push(`js-${j}\tkafkajs value ${j}`);
    }
    await producer.send({ topic: 'rf3', acks: -1, messages });
  }

  const lines: string[] = [];
  for (let j = 0; j < PER_CLIENT; j++) lines.push(`kc-${j}\tkcat value ${j}`);
  sent.push(...lines);
  await new Promise<void>((resolve, reject) => {
    const child = execFile('kcat', ['-P', '-b', cluster.bootstrap.join(','), '-t', 'rf3', '-K', '\t', '-X', 'acks=all'], { timeout: 60_000 }, (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(lines.join('\n') + '\n');
  });

  const consumed = await exec('kcat', ['-C', '-b', cluster.bootstrap.join(','), '-t', 'rf3', '-o', 'beginning', '-e', '-f', '%k\t%s\n'], { timeout: 60_000, maxBuffer: 64 << 20 });
  const got = consumed.stdout.split('\n').filter((l) => l.length > 0);
  assert.equal(got.length, sent.length);
  assert.deepEqual([...got].sort(), [...sent].sort());

  for (let p = 0; p < PARTITIONS; p++) {
    const leader = cluster.leaderOf('rf3', p);
    const leaderLog = cluster.replica(leader, 'rf3', p).log;
    const end = leaderLog.logEndOffset;
    assert.equal(leaderLog.highWatermark, end, 'every acks=all record is committed');
    for (const id of [1, 2, 3]) {
      const log = cluster.replica(id, 'rf3', p).log;
      await waitFor(`broker ${id} rf3-${p} at ${end}`, 10_000, () => (log.logEndOffset === end && log.highWatermark === end ? true : undefined));
      assert.ok(logBytes(log).equals(logBytes(leaderLog)), `broker ${id} rf3-${p} holds the leader's bytes`);
    }
  }
});
