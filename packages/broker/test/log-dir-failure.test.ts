// A disk I/O error takes one log directory offline (issue #14 point 5), driven with
// KafkaJS and raw requests against a broker with two log.dirs whose file system fails
// on demand (the storage package's FileSystem seam, storage/test/faulty-file-system.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ErrorCode, ZERO_UUID, encodeBatchSync } from '@tributary/protocol';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { createLogger } from '../src/logger.js';
import { readMetaProperties } from '../src/config/meta-properties.js';
import { FaultyFileSystem } from '../../storage/test/faulty-file-system.js';
import { RawClient } from './helpers/raw-client.js';

type TestContext = { after(fn: () => unknown): void };

interface Setup {
  broker: RunningBroker;
  dirs: string[];
  faults: FaultyFileSystem;
  lines: string[];
}

async function start(t: TestContext, dirCount: number): Promise<Setup> {
  const root = mkdtempSync(join(tmpdir(), 'trib-logdirs-'));
  const dirs = Array.from({ length: dirCount }, (_, i) => join(root, `d${i}`));
  const faults = new FaultyFileSystem();
  const lines: string[] = [];
  const broker = await startBroker({
    dataDir: dirs[0]!,
    port: 0,
    config: { 'log.dirs': dirs.join(','), 'offsets.topic.num.partitions': 1 },
    logger: createLogger({ level: 'info', format: 'logfmt', sink: (line) => lines.push(line) }),
    fileSystem: faults.fs,
  });
  t.after(async () => {
    await broker.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { broker, dirs, faults, lines };
}

function kafkaFor(broker: RunningBroker): Kafka {
  return new Kafka({ clientId: 'log-dir-failure', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
}

function dirOf(broker: RunningBroker, topic: string, partition: number): string {
  const lm = broker.services.logManager;
  return lm.logDirOf(lm.getLog(topic, partition)!);
}

function errorTypes(err: any): string[] {
  return [err?.type, err?.cause?.type, err?.originalError?.type, ...(err?.errors ?? []).map((e: any) => e?.type)].filter(Boolean);
}

test('two log dirs: meta.properties in each, new partitions spread, DescribeLogDirs per directory', async (t) => {
  const { broker, dirs } = await start(t, 2);
  const metas = dirs.map((d) => readMetaProperties(d)!);
  assert.equal(metas[0]!.clusterId, metas[1]!.clusterId);
  assert.equal(metas[0]!.nodeId, metas[1]!.nodeId);
  assert.notEqual(metas[0]!.directoryId, metas[1]!.directoryId);
  const admin = kafkaFor(broker).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 4 }] });
  const placed = [0, 1, 2, 3].map((p) => dirOf(broker, 'spread', p));
  // __consumer_offsets-0 went to d0 first, so the first new partition goes to d1.
  assert.deepEqual(placed, [dirs[1], dirs[0], dirs[1], dirs[0]]);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const r = await client.request('DescribeLogDirs', 4, { topics: null });
  assert.deepEqual(r.results.map((x) => [x.logDir, x.errorCode]), [[dirs[0], 0], [dirs[1], 0]]);
  const spreadIn = (i: number) => r.results[i]!.topics.find((x) => x.name === 'spread')!.partitions.map((p) => p.partitionIndex);
  assert.deepEqual(spreadIn(0), [1, 3]);
  assert.deepEqual(spreadIn(1), [0, 2]);
});

/** Produces one record to each partition with confluent-kafka-python (librdkafka), retries off; prints each delivery error name. */
const CONFLUENT_PRODUCE = `
import sys, json
from confluent_kafka import Producer
bootstrap, topic, parts = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(',')]
p = Producer({'bootstrap.servers': bootstrap, 'retries': 0, 'acks': 'all', 'message.timeout.ms': 10000})
out = {}
def report(part):
    def cb(err, msg):
        out[str(part)] = None if err is None else err.name()
    return cb
for part in parts:
    p.produce(topic, b'from python', partition=part, on_delivery=report(part))
p.flush(20)
print(json.dumps(out))
`;

function runPython(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function batchOf(values: string[]): Buffer {
  return encodeBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
}

async function produceRaw(client: RawClient, topic: string, partition: number, acks: number): Promise<number> {
  const r = await client.request('Produce', 9, { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batchOf(['raw']) }] }] });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

test('EIO on one of two log dirs: its partitions answer KAFKA_STORAGE_ERROR, the other dir keeps serving, one log line', async (t) => {
  const { broker, dirs, faults, lines } = await start(t, 2);
  const kafka = kafkaFor(broker);
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  // __consumer_offsets-0 is on d0: disk-0 -> d1, disk-1 -> d0, disk-2 -> d1, healthy-0 -> d0.
  await admin.createTopics({ topics: [{ topic: 'disk', numPartitions: 3 }] });
  await admin.createTopics({ topics: [{ topic: 'healthy', numPartitions: 1 }] });
  const failing = dirs[1]!;
  assert.deepEqual([dirOf(broker, 'disk', 0), dirOf(broker, 'disk', 1), dirOf(broker, 'healthy', 0)], [failing, dirs[0], dirs[0]]);

  // A real client's produce is the one that meets the failed write: librdkafka reports
  // KAFKA_STORAGE_ERROR for that partition and delivers to the other one.
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.startsWith(failing + sep) });
  const py = await runPython(CONFLUENT_PRODUCE, [`127.0.0.1:${broker.port}`, 'disk', '0,1']);
  assert.equal(py.code, 0, py.stderr);
  assert.deepEqual(JSON.parse(py.stdout), { 0: 'KAFKA_STORAGE_ERROR', 1: null });
  faults.heal(); // the disk "works" again: the directory must stay offline all the same

  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  for (let i = 0; i < 5; i++) {
    assert.equal(await produceRaw(client, 'disk', 0, -1), ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(await produceRaw(client, 'disk', 2, 1), ErrorCode.KAFKA_STORAGE_ERROR);
  }
  assert.equal(await produceRaw(client, 'disk', 1, -1), ErrorCode.NONE);
  const listed = await client.request('ListOffsets', 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'disk', partitions: [0, 1].map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -1 })) }] });
  assert.deepEqual(listed.topics[0]!.partitions.map((p) => p.errorCode), [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NONE]);

  const md = await client.request('Metadata', 12, { topics: [{ topicId: ZERO_UUID, name: 'disk' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  const view = md.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId, p.offlineReplicas]);
  assert.deepEqual(view, [
    [0, ErrorCode.LEADER_NOT_AVAILABLE, -1, [broker.nodeId]],
    [1, ErrorCode.NONE, broker.nodeId, []],
    [2, ErrorCode.LEADER_NOT_AVAILABLE, -1, [broker.nodeId]],
  ]);

  const described = await client.request('DescribeLogDirs', 4, { topics: null });
  assert.deepEqual(described.results.map((x) => [x.logDir, x.errorCode, x.totalBytes]), [[dirs[0], ErrorCode.NONE, described.results[0]!.totalBytes], [failing, ErrorCode.KAFKA_STORAGE_ERROR, -1]]);

  // KafkaJS fails a whole metadata refresh on any partition error, so for it the topic
  // with a leaderless partition is unusable (as against Kafka); other topics work.
  await assert.rejects(admin.fetchTopicMetadata({ topics: ['disk'] }), (err: any) => errorTypes(err).includes('LEADER_NOT_AVAILABLE'));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  t.after(() => producer.disconnect());
  await producer.send({ topic: 'healthy', acks: -1, messages: [{ value: 'a' }, { value: 'b' }] });
  // No restart after a crash: a restart scheduled once the broker has closed would retry
  // forever and keep the test process alive (KafkaJS's disconnect does not cancel it).
  const consumer = kafka.consumer({ groupId: 'after-failure', retry: { restartOnFailure: async () => false } });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  const values: string[] = [];
  await consumer.subscribe({ topic: 'healthy', fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { values.push(String(message.value)); } });
  const deadline = Date.now() + 15_000;
  while (values.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(values, ['a', 'b']);

  const offlineLines = lines.filter((l) => l.includes('is offline after an I/O error'));
  assert.equal(offlineLines.length, 1, lines.join('\n'));
  assert.match(offlineLines[0]!, /level=error/);
  assert.ok(offlineLines[0]!.includes(failing) && offlineLines[0]!.includes('EIO'), offlineLines[0]);
  const errorLines = lines.filter((l) => l.includes('level=error'));
  assert.equal(errorLines.length, 1, `one error line, not one per request:\n${errorLines.join('\n')}`);
  assert.equal(broker.services.closing, false, 'the broker keeps running');
  // Clients leave before the broker closes (t.after hooks run in registration order).
  await consumer.disconnect();
  await producer.disconnect();
});

test('durable acks: a failed fdatasync answers KAFKA_STORAGE_ERROR, never success, even once fsync works again', async (t) => {
  const { broker, dirs, faults } = await start(t, 2);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'durable', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [{ name: 'flush.durable.acks', value: 'true' }] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(dirOf(broker, 'durable', 0), dirs[1]);
  assert.equal(await produceRaw(client, 'durable', 0, -1), ErrorCode.NONE);
  faults.fail({ op: 'fdatasync', code: 'EIO', times: 1, match: (f) => f.startsWith(dirs[1]! + sep) });
  assert.equal(await produceRaw(client, 'durable', 0, -1), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(await produceRaw(client, 'durable', 0, -1), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(broker.services.logManager.getLog('durable', 0)!.isOffline, true);
});

test('the only log dir failing stops the broker, as Kafka halts', async (t) => {
  const { broker, dirs, faults, lines } = await start(t, 1);
  const admin = kafkaFor(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'alone', numPartitions: 1 }] });
  await admin.disconnect();
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.startsWith(dirs[0]! + sep) && f.endsWith('.log') });
  const producer = kafkaFor(broker).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'alone', acks: 1, messages: [{ value: 'x' }] }));
  await producer.disconnect().catch(() => undefined);
  const reason = await broker.failed;
  assert.match(reason, /all log directories have failed/);
  assert.ok(lines.some((l) => l.includes('Shutting down the broker')));
});

test('EIO on a read: that partition of the Fetch answers KAFKA_STORAGE_ERROR, the other is served', async (t) => {
  const { broker, dirs, faults } = await start(t, 2);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'reads', numPartitions: 2, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual([dirOf(broker, 'reads', 0), dirOf(broker, 'reads', 1)], [dirs[1], dirs[0]]);
  for (const p of [0, 1]) assert.equal(await produceRaw(client, 'reads', p, -1), ErrorCode.NONE);
  faults.fail({ op: 'read', code: 'EIO', match: (f) => f.startsWith(dirs[1]! + sep) });
  const r = await client.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'reads', partitions: [0, 1].map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 })) }],
    forgottenTopicsData: [], rackId: '',
  });
  assert.equal(r.errorCode, ErrorCode.NONE);
  const parts = r.responses[0]!.partitions;
  assert.deepEqual(parts.map((p) => p.errorCode), [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NONE]);
  assert.ok((parts[1]!.records?.length ?? 0) > 0);
  assert.deepEqual(broker.services.logManager.offlineLogDirs(), [dirs[1]]);
});

test('the log dir holding the metadata log failing stops the broker, even with another dir online', async (t) => {
  const { broker, dirs, faults } = await start(t, 2);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'meta', numPartitions: 2, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(dirOf(broker, 'meta', 1), dirs[0]);
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.startsWith(dirs[0]! + sep) && f.endsWith('.log') });
  // The broker stops at once (Kafka halts): the answer is KAFKA_STORAGE_ERROR or none at all.
  const answer = await produceRaw(client, 'meta', 1, 1).catch((err: Error) => err.message);
  assert.ok(answer === ErrorCode.KAFKA_STORAGE_ERROR || answer === 'connection closed', String(answer));
  assert.match(await broker.failed, /metadata log has failed/);
});

test('a fetch long-polling a partition whose directory fails answers at once with KAFKA_STORAGE_ERROR', async (t) => {
  const { broker, dirs, faults } = await start(t, 2);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'poll', numPartitions: 3, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual([dirOf(broker, 'poll', 0), dirOf(broker, 'poll', 2)], [dirs[1], dirs[1]]);
  const poller = await RawClient.open(broker.port);
  t.after(() => poller.close());
  const started = Date.now();
  const polling = poller.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 20_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'poll', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  }, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 200));
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.startsWith(dirs[1]! + sep) });
  assert.equal(await produceRaw(client, 'poll', 2, 1), ErrorCode.KAFKA_STORAGE_ERROR);
  const r = await polling;
  assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
  assert.equal(r.responses[0]!.partitions[0]!.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
});
