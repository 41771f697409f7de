/**
 * Message formats v0/v1 over the wire, with raw requests (Produce v0-2, Fetch v0-3,
 * ListOffsets v0), checked against what Kafka 3.x does: old message sets are stored as v2
 * batches with new offsets, magic 1 timestamps kept (magic 0: none), compressed wrappers
 * unwrapped and recompressed with their codec; old fetchers get magic 0 (Fetch v0-1) or 1
 * (Fetch v2-3) back, each message's CRC-32 valid, compressed batches as one wrapper,
 * LogAppendTime carried in magic 1, zstd refused, and message.downconversion.enable obeyed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompressionType,
  ErrorCode,
  TimestampType,
  decodeBatch,
  encodeBatch,
  encodeLegacyMessageSetSync,
  forEachBatch,
  readLegacyMessageSet,
  type FetchResponsePartitionData,
  type LegacyMessageInput,
} from '@tributary/protocol';
import { createTopic as createTopicOn, fetchPartition, startBrokerWithClient, type TestContext } from './helpers/broker.js';

const b = (s: string) => Buffer.from(s);

async function setup(t: TestContext) {
  const { broker, client } = await startBrokerWithClient(t, 'legacy');
  const createTopic = (name: string, configs: Record<string, string> = {}) => createTopicOn(client, name, configs);
  const produce = async (version: number, topic: string, records: Buffer) => {
    const r = await client.request('Produce', version, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    return r.responses[0]!.partitionResponses[0]!;
  };
  const fetch = async (version: number, topic: string, fetchOffset: number, partitionMaxBytes = 1 << 20): Promise<FetchResponsePartitionData> =>
    (await fetchPartition(client, version, topic, 0, fetchOffset, partitionMaxBytes, 1 << 20)).responses[0]!.partitions[0]!;
  /** The v2 batches stored, as a current fetcher (Fetch v12) sees them. */
  const storedBatches = async (topic: string) => {
    const data = await fetch(12, topic, 0);
    const records = data.records!;
    const batches: Awaited<ReturnType<typeof decodeBatch>>[] = [];
    const spans: { offset: number; size: number }[] = [];
    forEachBatch(records, (offset, size) => spans.push({ offset, size }));
    for (const s of spans) batches.push(await decodeBatch(records.subarray(s.offset, s.offset + s.size)));
    return batches;
  };
  return { broker, client, createTopic, produce, fetch, storedBatches };
}

/** [offset, magic, attributes] of each top-level entry of a message set. */
function entries(set: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let at = 0; at + 12 <= set.length; at += 12 + set.readInt32BE(at + 8)) out.push([Number(set.readBigInt64BE(at)), set[at + 16]!, set[at + 17]!]);
  return out;
}

const messages = (from: number, count: number, timestamp?: number): LegacyMessageInput[] =>
  Array.from({ length: count }, (_, i) => ({ offset: i, key: i === 1 ? null : b(`k${from + i}`), value: b(`v${from + i}`), ...(timestamp === undefined ? {} : { timestamp: timestamp + i }) }));

test('Produce v0-2 message sets are stored as v2 batches with new offsets; Fetch v0-3 converts them back', async (t) => {
  const { createTopic, produce, fetch, storedBatches } = await setup(t);
  await createTopic('legacy');

  // Magic 0, uncompressed (Produce v0); the sender's offsets (5..7) are ignored.
  const v0 = encodeLegacyMessageSetSync(messages(0, 3).map((m) => ({ ...m, offset: m.offset + 5 })), { magic: 0 });
  const r0 = await produce(0, 'legacy', v0);
  assert.deepEqual([r0.errorCode, r0.baseOffset], [ErrorCode.NONE, 0]);
  // Magic 1, gzip wrapper with relative inner offsets and CreateTime timestamps (Produce v2).
  const ts = 1_700_000_000_000;
  const v1gzip = encodeLegacyMessageSetSync(messages(3, 4, ts), { magic: 1, compression: CompressionType.GZIP });
  const r2 = await produce(2, 'legacy', v1gzip);
  assert.deepEqual([r2.errorCode, r2.baseOffset, r2.logAppendTimeMs], [ErrorCode.NONE, 3, -1]);
  // Magic 1, uncompressed (Produce v1).
  const r1 = await produce(1, 'legacy', encodeLegacyMessageSetSync(messages(7, 2, ts + 100), { magic: 1 }));
  assert.deepEqual([r1.errorCode, r1.baseOffset], [ErrorCode.NONE, 7]);

  const stored = await storedBatches('legacy');
  assert.equal(stored.length, 3);
  const [s0, s1, s2] = stored as [(typeof stored)[0], (typeof stored)[0], (typeof stored)[0]];
  assert.deepEqual([s0.header.baseOffset, s0.header.recordCount, s0.header.compression, s0.header.producerId, s0.header.maxTimestamp], [0, 3, CompressionType.NONE, -1, -1]);
  assert.deepEqual(s0.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString()]), [[0, -1, 'k0', 'v0'], [1, -1, null, 'v1'], [2, -1, 'k2', 'v2']]);
  assert.deepEqual([s1.header.baseOffset, s1.header.compression, s1.header.timestampType, s1.header.maxTimestamp], [3, CompressionType.GZIP, TimestampType.CREATE_TIME, ts + 3]);
  assert.deepEqual(s1.records.map((r) => [r.offset, r.timestamp, r.value?.toString()]), [[3, ts, 'v3'], [4, ts + 1, 'v4'], [5, ts + 2, 'v5'], [6, ts + 3, 'v6']]);
  assert.deepEqual(s2.records.map((r) => [r.offset, r.timestamp]), [[7, ts + 100], [8, ts + 101]]);

  // Fetch v0: magic 0. Uncompressed batches come back byte for byte as an old producer
  // would write them; the gzip batch as one magic 0 wrapper with absolute inner offsets.
  const f0 = await fetch(0, 'legacy', 0);
  assert.equal(f0.errorCode, ErrorCode.NONE);
  assert.equal(f0.highWatermark, 9);
  const expected0 = encodeLegacyMessageSetSync(messages(0, 3), { magic: 0 });
  assert.deepEqual(f0.records!.subarray(0, expected0.length), expected0);
  assert.deepEqual(entries(f0.records!), [[0, 0, 0], [1, 0, 0], [2, 0, 0], [6, 0, CompressionType.GZIP], [7, 0, 0], [8, 0, 0]]);
  const read0 = readLegacyMessageSet(f0.records!); // verifies every CRC-32, inner ones too
  assert.ok(read0.ok, read0.ok ? '' : read0.message);
  assert.deepEqual(read0.messages.map((m) => [m.offset, m.magic, m.timestamp, m.compression, m.value?.toString()]), [
    [0, 0, -1, 0, 'v0'], [1, 0, -1, 0, 'v1'], [2, 0, -1, 0, 'v2'],
    [3, 0, -1, 1, 'v3'], [4, 0, -1, 1, 'v4'], [5, 0, -1, 1, 'v5'], [6, 0, -1, 1, 'v6'],
    [7, 0, -1, 0, 'v7'], [8, 0, -1, 0, 'v8'],
  ]);

  // Fetch v3 from offset 1: magic 1 with timestamps; the uncompressed batch starts at the
  // fetch offset, the compressed one is returned whole (relative inner offsets, wrapper
  // offset = its last message's).
  const f3 = await fetch(3, 'legacy', 1);
  const read3 = readLegacyMessageSet(f3.records!);
  assert.ok(read3.ok);
  assert.deepEqual(read3.messages.map((m) => [m.offset, m.magic, m.timestamp, m.timestampType, m.key?.toString() ?? null]), [
    [1, 1, -1, 0, null], [2, 1, -1, 0, 'k2'],
    [3, 1, ts, 0, 'k3'], [4, 1, ts + 1, 0, null], [5, 1, ts + 2, 0, 'k5'], [6, 1, ts + 3, 0, 'k6'],
    [7, 1, ts + 100, 0, 'k7'], [8, 1, ts + 101, 0, null],
  ]);
  assert.deepEqual(entries(f3.records!), [[1, 1, 0], [2, 1, 0], [6, 1, CompressionType.GZIP], [7, 1, 0], [8, 1, 0]], 'the gzip wrapper carries its last inner offset')

  // A partition limit smaller than the data: whole messages only, at least the first.
  const small = await fetch(1, 'legacy', 0, 40);
  const readSmall = readLegacyMessageSet(small.records!);
  assert.ok(readSmall.ok);
  assert.ok(readSmall.messages.length >= 1);
  assert.equal(readSmall.messages[0]!.offset, 0);
});

test('LogAppendTime topics: Produce v2 reports the append time; Fetch v2 carries it in magic 1 (attribute bit 3)', async (t) => {
  const { createTopic, produce, fetch, storedBatches } = await setup(t);
  await createTopic('lat', { 'message.timestamp.type': 'LogAppendTime' });
  const before = Date.now();
  const r = await produce(2, 'lat', encodeLegacyMessageSetSync(messages(0, 2, 1000), { magic: 1, compression: CompressionType.SNAPPY }));
  assert.equal(r.errorCode, ErrorCode.NONE);
  const appendTimeMs = r.logAppendTimeMs ?? -1;
  assert.ok(appendTimeMs >= before && appendTimeMs <= Date.now(), `logAppendTime ${appendTimeMs}`);
  const [stored] = await storedBatches('lat');
  assert.deepEqual([stored!.header.timestampType, stored!.header.maxTimestamp, stored!.header.compression], [TimestampType.LOG_APPEND_TIME, appendTimeMs, CompressionType.SNAPPY]);

  const f = await fetch(2, 'lat', 0);
  const wrapperAttributes = f.records![17]!;
  assert.equal(wrapperAttributes, CompressionType.SNAPPY | 0x08);
  const read = readLegacyMessageSet(f.records!);
  assert.ok(read.ok);
  assert.deepEqual(read.messages.map((m) => [m.offset, m.timestamp, m.timestampType]), [[0, appendTimeMs, TimestampType.LOG_APPEND_TIME], [1, appendTimeMs, TimestampType.LOG_APPEND_TIME]]);

  // A producer may not claim LogAppendTime itself.
  const claimed = encodeLegacyMessageSetSync(messages(0, 1, 5), { magic: 1, timestampType: TimestampType.LOG_APPEND_TIME });
  assert.equal((await produce(2, 'lat', claimed)).errorCode, ErrorCode.INVALID_TIMESTAMP);
});

test('bad old message sets are refused per partition', async (t) => {
  const { createTopic, produce, fetch } = await setup(t);
  await createTopic('bad');
  const set = encodeLegacyMessageSetSync(messages(0, 2, 1), { magic: 1 });
  const corrupt = Buffer.from(set);
  corrupt[corrupt.length - 1]! ^= 0xff;
  assert.equal((await produce(2, 'bad', corrupt)).errorCode, ErrorCode.CORRUPT_MESSAGE);
  const badCodec = encodeLegacyMessageSetSync(messages(0, 1, 1), { magic: 1 });
  badCodec[17] = CompressionType.ZSTD; // also fix the CRC-32 so that only the codec is wrong
  const { crc32 } = await import('@node-rs/crc32');
  badCodec.writeUInt32BE(crc32(badCodec.subarray(16)) >>> 0, 12);
  assert.equal((await produce(1, 'bad', badCodec)).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  // Magic 0/1 in a v3+ request is refused as in Kafka.
  assert.equal((await produce(3, 'bad', set)).errorCode, ErrorCode.INVALID_RECORD);
  assert.equal((await produce(2, 'nope', set)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await fetch(0, 'bad', 0)).highWatermark, 0, 'nothing was appended');
});

test('down-conversion drops headers and refuses zstd; message.downconversion.enable=false refuses old fetchers', async (t) => {
  const { createTopic, produce, fetch } = await setup(t);
  await createTopic('modern');
  const withHeaders = await encodeBatch({ records: [{ key: b('a'), value: b('1'), headers: [{ key: 'h', value: b('x') }], timestamp: 42 }], compression: CompressionType.LZ4 });
  assert.equal((await produce(9, 'modern', withHeaders)).errorCode, ErrorCode.NONE);
  for (const version of [0, 2]) {
    const read = readLegacyMessageSet((await fetch(version, 'modern', 0)).records!);
    assert.ok(read.ok, `Fetch v${version}`);
    assert.deepEqual(read.messages.map((m) => [m.offset, m.magic, m.compression, m.timestamp, m.value?.toString()]), [[0, version === 0 ? 0 : 1, CompressionType.LZ4, version === 0 ? -1 : 42, '1']]);
  }
  // A zstd batch cannot be expressed in magic 0/1.
  assert.equal((await produce(9, 'modern', await encodeBatch({ records: [{ value: b('z') }], compression: CompressionType.ZSTD }))).errorCode, ErrorCode.NONE);
  const zstd = await fetch(3, 'modern', 1);
  assert.deepEqual([zstd.errorCode, zstd.records], [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, null]);
  assert.equal((await fetch(12, 'modern', 1)).errorCode, ErrorCode.NONE);
  // A zstd topic refuses every fetcher older than v10 (KIP-110).
  await createTopic('zstd-topic', { 'compression.type': 'zstd' });
  assert.equal((await fetch(9, 'zstd-topic', 0)).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal((await fetch(10, 'zstd-topic', 0)).errorCode, ErrorCode.NONE);

  await createTopic('no-down', { 'message.downconversion.enable': 'false' });
  assert.equal((await produce(0, 'no-down', encodeLegacyMessageSetSync(messages(0, 1), { magic: 0 }))).errorCode, ErrorCode.NONE);
  assert.equal((await fetch(3, 'no-down', 0)).errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.equal((await fetch(4, 'no-down', 0)).errorCode, ErrorCode.NONE);
});

test('ListOffsets v0 answers old-style offset arrays; ApiVersions advertises the old versions', async (t) => {
  const { client, createTopic, produce } = await setup(t);
  await createTopic('offsets');
  const listV0 = async (timestamp: number, maxNumOffsets: number) => {
    const r = await client.request('ListOffsets', 0, { replicaId: -1, topics: [{ name: 'offsets', partitions: [{ partitionIndex: 0, timestamp, maxNumOffsets }] }] });
    const p = r.topics[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE);
    return p.oldStyleOffsets;
  };
  assert.deepEqual(await listV0(-1, 1), [0]);
  assert.equal((await produce(0, 'offsets', encodeLegacyMessageSetSync(messages(0, 3), { magic: 0 }))).errorCode, ErrorCode.NONE);
  assert.deepEqual(await listV0(-1, 1), [3]);
  assert.deepEqual(await listV0(-2, 1), [0]);
  assert.deepEqual(await listV0(-1, 10), [3, 0]);
  assert.deepEqual(await listV0(0, 10), [], 'no segment is older than timestamp 0');
  assert.deepEqual(await listV0(Date.now() + 60_000, 10), [3, 0]);

  const versions = await client.request('ApiVersions', 0, {});
  const range = (key: number) => versions.apiKeys.find((k) => k.apiKey === key);
  assert.deepEqual([range(0)?.minVersion, range(1)?.minVersion, range(2)?.minVersion], [0, 0, 0]);
});
