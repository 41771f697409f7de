/**
 * Kafka's LogValidator as a client sees it, over raw requests so that every field can be
 * checked: per-record refusals (record_errors with Kafka's indices and messages, and the
 * batch-level error_message), timestamp limits, compression.type applied to what is stored
 * (read back from the segment file on disk), Produce below v7 with zstd, and Fetch below
 * v10 of a zstd topic.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchLayout,
  CompressionType,
  ErrorCode,
  TimestampType,
  computeBatchCrc,
  decodeBatch,
  encodeBatch,
  forEachBatch,
  readBatchHeader,
  type EncodeBatchOptions,
  type FetchResponse,
  type ProduceResponsePartitionProduceResponse,
  type RecordInput,
} from '@tributary/protocol';
import { createTopic as createTopicOn, fetchPartition, startBrokerWithClient, type TestContext } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';
import { createLogger, startBroker } from '../src/index.js';

const PRODUCE_VERSION = 9;

async function setup(t: TestContext) {
  const { broker, client } = await startBrokerWithClient(t, 'produce-validation');

  const createTopic = (name: string, configs: Record<string, string> = {}) => createTopicOn(client, name, configs);

  const produce = async (topic: string, records: Buffer, version = PRODUCE_VERSION): Promise<ProduceResponsePartitionProduceResponse> => {
    const r = await client.request('Produce', version, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    return r.responses[0]!.partitionResponses[0]!;
  };

  const fetch = (topic: string, version: number): Promise<FetchResponse> =>
    fetchPartition(client, version, topic, 0);

  /** The batches of the partition's first segment file, as stored on disk. */
  const onDisk = (topic: string): Buffer[] => {
    const log = broker.services.replicaManager.logManager.getLog(topic, 0);
    assert.ok(log, `log of ${topic}-0`);
    const file = readFileSync(join(log.dir, '00000000000000000000.log'));
    const batches: Buffer[] = [];
    forEachBatch(file, (at, size) => batches.push(file.subarray(at, at + size)));
    return batches;
  };

  return { broker, client, createTopic, produce, fetch, onDisk };
}

function batch(records: RecordInput[], options: Omit<EncodeBatchOptions, 'records'> = {}): Promise<Buffer> {
  return encodeBatch({ ...options, records });
}

/** 100 records, keyless at indices 3, 13, ..., 93. */
function tenKeyless(): RecordInput[] {
  return Array.from({ length: 100 }, (_, i) => ({ key: i % 10 === 3 ? null : Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) }));
}

test('a compacted topic refuses a batch with keyless records, listing each in record_errors as Kafka does', async (t) => {
  const { createTopic, produce, fetch } = await setup(t);
  await createTopic('compacted', { 'cleanup.policy': 'compact' });
  const refused = [3, 13, 23, 33, 43, 53, 63, 73, 83, 93];
  const message = 'Compacted topic cannot accept message without key in topic partition compacted-0';
  for (const compression of [CompressionType.NONE, CompressionType.LZ4, CompressionType.ZSTD]) {
    const r = await produce('compacted', await batch(tenKeyless(), { compression }));
    assert.equal(r.errorCode, ErrorCode.INVALID_RECORD, `codec ${compression}`);
    assert.equal(r.baseOffset, -1);
    assert.equal(r.logAppendTimeMs, -1);
    assert.equal(r.logStartOffset, 0);
    assert.deepEqual(r.recordErrors, refused.map((batchIndex) => ({ batchIndex, batchIndexErrorMessage: message })));
    assert.equal(
      r.errorMessage,
      'One or more records have been rejected due to 10 record errors in total, and only showing the first three errors at most: ' +
        `[RecordError(batchIndex=3, message='${message}'), RecordError(batchIndex=13, message='${message}'), RecordError(batchIndex=23, message='${message}')]`,
    );
  }
  // Nothing of the refused batches was appended; a batch with keys is.
  const ok = await produce('compacted', await batch([{ key: Buffer.from('k'), value: Buffer.from('v') }]));
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(ok.baseOffset, 0);
  assert.equal((await fetch('compacted', 12)).responses[0]!.partitions[0]!.highWatermark, 1);
});

test('timestamps outside message.timestamp.before/after.max.ms are refused per record with INVALID_TIMESTAMP', async (t) => {
  const { createTopic, produce } = await setup(t);
  await createTopic('window', { 'message.timestamp.before.max.ms': '3600000', 'message.timestamp.after.max.ms': '60000' });
  await createTopic('legacy', { 'message.timestamp.difference.max.ms': '3600000' });
  const now = Date.now();
  const records: RecordInput[] = Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), timestamp: now }));
  records[2] = { ...records[2]!, timestamp: now - 7_200_000 };
  records[7] = { ...records[7]!, timestamp: now + 600_000 };
  const r = await produce('window', await batch(records));
  assert.equal(r.errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.equal(r.errorMessage, 'One or more records have been rejected due to invalid timestamp');
  assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [2, 7]);
  const window = /The timestamp should be within \[(\d+), (\d+)\]$/;
  assert.match(r.recordErrors![0]!.batchIndexErrorMessage!, new RegExp(`^Timestamp ${now - 7_200_000} of message with offset 2 is out of range\\. `));
  const [, min, max] = window.exec(r.recordErrors![1]!.batchIndexErrorMessage!)!;
  assert.equal(Number(max) - Number(min), 3_660_000, 'the window is [now - before, now + after]');
  assert.ok(Math.abs(Number(min) + 3_600_000 - now) < 60_000);

  // The deprecated difference.max.ms still bounds both sides while before/after are unset.
  const legacy = await produce('legacy', await batch(records));
  assert.equal(legacy.errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.deepEqual(legacy.recordErrors!.map((e) => e.batchIndex), [2]);

  const inRange = await produce('window', await batch(records.filter((_, i) => i !== 2 && i !== 7)));
  assert.equal(inRange.errorCode, ErrorCode.NONE);
});

test('a producer LogAppendTime batch into a LogAppendTime topic is refused per record', async (t) => {
  const { createTopic, produce } = await setup(t);
  await createTopic('lat', { 'message.timestamp.type': 'LogAppendTime' });
  const r = await produce('lat', await batch([{ value: Buffer.from('abc') }, { key: Buffer.from('k'), value: null }], { timestampType: TimestampType.LOG_APPEND_TIME, logAppendTime: 1234 }));
  assert.equal(r.errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.deepEqual(r.recordErrors, [
    { batchIndex: 0, batchIndexErrorMessage: 'Invalid timestamp type in message DefaultRecord(offset=0, timestamp=1234, key=0 bytes, value=3 bytes). Producer should not set timestamp type to LogAppendTime.' },
    { batchIndex: 1, batchIndexErrorMessage: 'Invalid timestamp type in message DefaultRecord(offset=1, timestamp=1234, key=1 bytes, value=0 bytes). Producer should not set timestamp type to LogAppendTime.' },
  ]);
});

test('compression.type stores every batch in the topic codec, recompressing what producers sent', async (t) => {
  const { createTopic, produce, fetch, onDisk } = await setup(t);
  const codecs: [string, CompressionType][] = [
    ['zstd', CompressionType.ZSTD],
    ['gzip', CompressionType.GZIP],
    ['lz4', CompressionType.LZ4],
    ['snappy', CompressionType.SNAPPY],
    ['uncompressed', CompressionType.NONE],
  ];
  const values = Array.from({ length: 50 }, (_, i) => `value ${i} `.repeat(20));
  for (const [name, codec] of codecs) {
    const topic = `codec-${name}`;
    await createTopic(topic, { 'compression.type': name });
    // Uncompressed (the synchronous path) and gzip (decompressed, then recompressed), from an idempotent producer.
    let offset = 0;
    for (const sent of [CompressionType.NONE, CompressionType.GZIP]) {
      const r = await produce(topic, await batch(values.map((v) => ({ key: Buffer.from('k'), value: Buffer.from(v) })), { compression: sent, producerId: 7, producerEpoch: 0, baseSequence: offset }));
      assert.equal(r.errorCode, ErrorCode.NONE, `${name} <- codec ${sent}: ${r.errorMessage}`);
      assert.equal(r.baseOffset, offset);
      offset += values.length;
    }
    const stored = onDisk(topic);
    assert.equal(stored.length, 2);
    for (const [i, bytes] of stored.entries()) {
      const header = readBatchHeader(bytes, 0);
      assert.equal(header.compression, codec, `${topic} batch ${i} on disk`);
      assert.equal(header.crc, computeBatchCrc(bytes, 0, bytes.length), 'CRC recomputed');
      assert.equal(header.baseOffset, i * values.length, 'offsets assigned by the broker');
      assert.equal(header.producerId, 7);
      assert.equal(header.baseSequence, i * values.length);
      const decoded = await decodeBatch(bytes, 0);
      assert.deepEqual(decoded.records.map((r) => r.value!.toString()), values);
      assert.deepEqual(decoded.records.map((r) => r.offset), values.map((_, j) => i * values.length + j));
    }
    // A consumer reads the same bytes.
    const fetched = (await fetch(topic, 12)).responses[0]!.partitions[0]!;
    assert.deepEqual(fetched.records, Buffer.concat(stored));
  }
});

test('compression.type=producer keeps a compressed batch byte for byte; a LogAppendTime zstd topic stamps the rebuilt batch', async (t) => {
  const { createTopic, produce, onDisk } = await setup(t);
  await createTopic('as-sent');
  const sent = await batch([{ value: Buffer.from('x'.repeat(1000)) }], { compression: CompressionType.SNAPPY });
  assert.equal((await produce('as-sent', Buffer.from(sent))).errorCode, ErrorCode.NONE);
  const [stored] = onDisk('as-sent');
  // Only baseOffset and the partition leader epoch (outside the CRC) differ.
  assert.deepEqual(stored!.subarray(BatchLayout.MAGIC), sent.subarray(BatchLayout.MAGIC));

  await createTopic('lat-zstd', { 'compression.type': 'zstd', 'message.timestamp.type': 'LogAppendTime' });
  const before = Date.now();
  const r = await produce('lat-zstd', await batch([{ value: Buffer.from('a') }, { value: Buffer.from('b') }], { timestamp: 1000 }));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.ok(r.logAppendTimeMs! >= before);
  const [lat] = onDisk('lat-zstd');
  const header = readBatchHeader(lat!, 0);
  assert.equal(header.compression, CompressionType.ZSTD);
  assert.equal(header.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.equal(header.maxTimestamp, r.logAppendTimeMs);
  assert.equal(header.crc, computeBatchCrc(lat!, 0, lat!.length));
});

test('a batch that outgrows max.message.bytes once recompressed is refused with MESSAGE_TOO_LARGE', async (t) => {
  const { createTopic, produce } = await setup(t);
  await createTopic('small', { 'compression.type': 'uncompressed', 'max.message.bytes': '20000' });
  const compressible = await batch([{ value: Buffer.alloc(50_000, 0x61) }], { compression: CompressionType.GZIP });
  assert.ok(compressible.length < 20_000);
  const r = await produce('small', compressible);
  assert.equal(r.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal(r.errorMessage, null);
  assert.equal(r.logStartOffset, -1);
});

test('zstd: Produce below v7 is refused; Fetch below v10 of a zstd topic gets UNSUPPORTED_COMPRESSION_TYPE', async (t) => {
  const { createTopic, produce, fetch } = await setup(t);
  await createTopic('zstd-topic', { 'compression.type': 'zstd' });
  await createTopic('producer-topic');
  const zstdBatch = await batch([{ value: Buffer.from('z') }], { compression: CompressionType.ZSTD });
  const tooOld = await produce('producer-topic', zstdBatch, 6);
  assert.equal(tooOld.errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  // Refused by Kafka before the log: no message, no log start offset.
  assert.equal(tooOld.errorMessage, null);
  assert.equal(tooOld.logStartOffset, -1);
  assert.equal((await produce('producer-topic', await batch([{ value: Buffer.from('z') }], { compression: CompressionType.ZSTD }), 7)).errorCode, ErrorCode.NONE);
  // An old producer may still write to a zstd topic (Kafka checks only the batch's codec).
  assert.equal((await produce('zstd-topic', await batch([{ value: Buffer.from('u') }]), 3)).errorCode, ErrorCode.NONE);

  const old = (await fetch('zstd-topic', 9)).responses[0]!.partitions[0]!;
  assert.equal(old.errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal(old.highWatermark, -1);
  assert.equal(old.records, null);
  const current = (await fetch('zstd-topic', 10)).responses[0]!.partitions[0]!;
  assert.equal(current.errorCode, ErrorCode.NONE);
  assert.equal(readBatchHeader(current.records!, 0).compression, CompressionType.ZSTD);
  // Kafka decides by the topic config: zstd batches of a `producer` topic are served to v9.
  const served = (await fetch('producer-topic', 9)).responses[0]!.partitions[0]!;
  assert.equal(served.errorCode, ErrorCode.NONE);
  assert.equal(readBatchHeader(served.records!, 0).compression, CompressionType.ZSTD);
});

test('the broker compression.type applies to topics without their own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-broker-codec-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config: { 'compression.type': 'lz4' }, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  for (const [topic, configs] of [['inherits', []], ['own', [{ name: 'compression.type', value: 'producer' }]]] as const) {
    const created = await client.request('CreateTopics', 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [...configs] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
    const produced = await client.request('Produce', PRODUCE_VERSION, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: await batch([{ value: Buffer.from('v') }]) }] }] });
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
  }
  const stored = (topic: string) => readBatchHeader(readFileSync(join(broker.services.replicaManager.logManager.getLog(topic, 0)!.dir, '00000000000000000000.log')), 0).compression;
  assert.equal(stored('inherits'), CompressionType.LZ4);
  assert.equal(stored('own'), CompressionType.NONE);
});

test('two batches for one partition are refused as Kafka refuses them before the log: INVALID_RECORD, no message', async (t) => {
  const { createTopic, produce } = await setup(t);
  await createTopic('two');
  const one = await batch([{ value: Buffer.from('a') }]);
  const r = await produce('two', Buffer.concat([one, one]));
  assert.equal(r.errorCode, ErrorCode.INVALID_RECORD);
  assert.equal(r.errorMessage, null);
  assert.equal(r.logStartOffset, -1);
  assert.deepEqual(r.recordErrors, []);
});

test('a compression.type change applies to the next append', async (t) => {
  const { client, createTopic, produce, onDisk } = await setup(t);
  await createTopic('changing');
  const alter = async (value: string) => {
    const r = await client.request('IncrementalAlterConfigs', 1, {
      resources: [{ resourceType: 2, resourceName: 'changing', configs: [{ name: 'compression.type', configOperation: 0, value }] }],
      validateOnly: false,
    });
    assert.equal(r.responses[0]!.errorCode, ErrorCode.NONE, r.responses[0]!.errorMessage ?? '');
  };
  const produceOne = async () => assert.equal((await produce('changing', await batch([{ value: Buffer.from('v') }]))).errorCode, ErrorCode.NONE);
  await produceOne();
  await alter('snappy');
  await produceOne();
  await alter('producer');
  await produceOne();
  assert.deepEqual(onDisk('changing').map((b) => readBatchHeader(b, 0).compression), [CompressionType.NONE, CompressionType.SNAPPY, CompressionType.NONE]);
});
