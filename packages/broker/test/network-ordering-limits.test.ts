/**
 * Issue 14 against a real broker over a real socket, with raw pipelined requests:
 * - ordering as in Kafka (one request at a time per connection, except Produce behind
 *   Produce): a ListOffsets and a Fetch pipelined after a slow Produce see it; a Produce
 *   pipelined after a waiting Fetch is not applied before the Fetch answers; responses
 *   come back in request order;
 * - Fetch honours min(request max_bytes, broker fetch.max.bytes), returning at least one
 *   batch; the connection's response budget caps a Fetch too;
 * - a partition named several times in a Fetch or a Produce is fetched or appended once
 *   and answered once, as Kafka's map keyed by topic-partition does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiKey, CompressionType, ErrorCode, Reader, apiSpecByKey, decodeResponseHeader, encodeBatch, encodeBatchSync, forEachBatch,
  responseHeaderVersion, type ApiMessages, type FetchRequest,
} from '@tributary/protocol';
import { startBroker, createLogger } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';
import type { TestContext } from './helpers/broker.js';

const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
const LIST_OFFSETS_VERSION = 7;

async function setup(t: TestContext, config: Record<string, string | number> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'trib-limits-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const createTopic = async (name: string, numPartitions = 1) => {
    const r = await client.request('CreateTopics', 7, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
  };
  return { broker, client, createTopic };
}

function produce(topic: string, partitions: { partition: number; records: Buffer }[], acks = 1): ApiMessages['Produce']['request'] {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: partitions.map((p) => ({ index: p.partition, records: p.records })) }] };
}

function fetch(topic: string, partitions: { partition: number; fetchOffset: number; partitionMaxBytes?: number }[], options: Partial<FetchRequest> = {}): FetchRequest {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes ?? (64 << 20), currentLeaderEpoch: -1, logStartOffset: -1 })) }],
    forgottenTopicsData: [], rackId: '', ...options,
  };
}

function listLatest(topic: string): ApiMessages['ListOffsets']['request'] {
  return { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] };
}

/** Decodes a pipelined response frame, checking its correlation id. */
function decode<K extends keyof ApiMessages & keyof typeof ApiKey>(api: K, version: number, correlationId: number, frame: Buffer): ApiMessages[K]['response'] {
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(ApiKey[api], version));
  assert.equal(header.correlationId, correlationId, `${api}: responses come in request order`);
  return apiSpecByKey(ApiKey[api])!.decodeResponse(r, version) as ApiMessages[K]['response'];
}

/** Base offsets of the batches in a record set, and the record count. */
function batchesOf(records: Buffer | null): { baseOffsets: number[]; sizes: number[] } {
  const baseOffsets: number[] = [];
  const sizes: number[] = [];
  if (records === null) return { baseOffsets, sizes };
  forEachBatch(records, (at, size) => {
    baseOffsets.push(Number(records.readBigInt64BE(at)));
    sizes.push(size);
  });
  return { baseOffsets, sizes };
}

function values(n: number, bytes: number, tag: string): { value: Buffer }[] {
  return Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`${tag}-${i}-`.padEnd(bytes, 'abcdefgh')) }));
}

test('a ListOffsets and a Fetch pipelined after a slow (queued, compressed) Produce see its records, in order', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('order');
  for (let round = 0; round < 3; round++) {
    // A gzip batch of 20 MB of records is validated asynchronously (decompressed off the
    // event loop) before its append: the Produce is still in flight when the next request
    // arrives.
    const records = await encodeBatch({ compression: CompressionType.GZIP, records: values(20_000, 1000, `r${round}`) });
    const base = round * 20_000;
    client.send(ApiKey.Produce, PRODUCE_VERSION, 1, produce('order', [{ partition: 0, records }], -1));
    client.send(ApiKey.ListOffsets, LIST_OFFSETS_VERSION, 2, listLatest('order'));
    client.send(ApiKey.Fetch, FETCH_VERSION, 3, fetch('order', [{ partition: 0, fetchOffset: base }]));
    const produced = decode('Produce', PRODUCE_VERSION, 1, await client.next());
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(produced.responses[0]!.partitionResponses[0]!.baseOffset, base);
    const latest = decode('ListOffsets', LIST_OFFSETS_VERSION, 2, await client.next());
    assert.equal(latest.topics[0]!.partitions[0]!.offset, base + 20_000, 'ListOffsets sees the Produce before it');
    const fetched = decode('Fetch', FETCH_VERSION, 3, await client.next());
    assert.deepEqual(batchesOf(fetched.responses[0]!.partitions[0]!.records).baseOffsets, [base], 'Fetch sees the Produce before it');
  }
});

test('a Produce pipelined after a waiting Fetch is applied only after the Fetch answers', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('later');
  const started = Date.now();
  client.send(ApiKey.Fetch, FETCH_VERSION, 1, fetch('later', [{ partition: 0, fetchOffset: 0 }], { maxWaitMs: 300, minBytes: 1 }));
  client.send(ApiKey.Produce, PRODUCE_VERSION, 2, produce('later', [{ partition: 0, records: encodeBatchSync({ records: values(1, 10, 'x') }) }]));
  const fetched = decode('Fetch', FETCH_VERSION, 1, await client.next());
  assert.equal(fetched.responses[0]!.partitions[0]!.records?.length ?? 0, 0, 'the Fetch does not see the Produce after it');
  assert.ok(Date.now() - started >= 250, 'the Fetch waited its max wait');
  const produced = decode('Produce', PRODUCE_VERSION, 2, await client.next());
  assert.equal(produced.responses[0]!.partitionResponses[0]!.baseOffset, 0);
});

test('pipelined Produce requests still run concurrently behind each other and answer in order', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('pipe', 2);
  const n = 200;
  for (let i = 0; i < n; i++) {
    // Alternate the queued (compressed) and synchronous paths.
    const records = i % 2 === 0 ? await encodeBatch({ compression: CompressionType.GZIP, records: values(5, 100, `p${i}`) }) : encodeBatchSync({ records: values(5, 100, `p${i}`) });
    client.send(ApiKey.Produce, PRODUCE_VERSION, i, produce('pipe', [{ partition: i % 2, records }]));
  }
  for (let i = 0; i < n; i++) {
    const r = decode('Produce', PRODUCE_VERSION, i, await client.next());
    assert.equal(r.responses[0]!.partitionResponses[0]!.baseOffset, Math.floor(i / 2) * 5);
  }
});

test('Fetch returns at most min(max_bytes, fetch.max.bytes), and at least one whole batch', async (t) => {
  const { client, createTopic } = await setup(t, { 'fetch.max.bytes': 5000 });
  await createTopic('limits', 2);
  // Ten batches of ~2 KB in each partition, then one batch of ~8 KB in partition 1.
  for (let i = 0; i < 10; i++) {
    for (const partition of [0, 1]) {
      await client.request('Produce', PRODUCE_VERSION, produce('limits', [{ partition, records: encodeBatchSync({ records: values(2, 1000, `b${i}`) }) }]));
    }
  }
  const big = encodeBatchSync({ records: values(8, 1000, 'big') });
  await client.request('Produce', PRODUCE_VERSION, produce('limits', [{ partition: 1, records: big }]));

  const total = (r: ApiMessages['Fetch']['response']) => r.responses.flatMap((t) => t.partitions).reduce((n, p) => n + (p.records?.length ?? 0), 0);
  // The broker's fetch.max.bytes (5000) is below the request's 64 MB: two 2 KB batches.
  const capped = await client.request('Fetch', FETCH_VERSION, fetch('limits', [{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 0 }]));
  assert.ok(total(capped) <= 5000, `response holds ${total(capped)} record bytes`);
  assert.equal(batchesOf(capped.responses[0]!.partitions[0]!.records).baseOffsets.length, 2);
  assert.equal(capped.responses[0]!.partitions[1]!.records?.length ?? 0, 0);
  // The request's max_bytes below the broker's: one batch fits, so one.
  const small = await client.request('Fetch', FETCH_VERSION, fetch('limits', [{ partition: 0, fetchOffset: 0 }], { maxBytes: 3000 }));
  assert.equal(batchesOf(small.responses[0]!.partitions[0]!.records).baseOffsets.length, 1);
  // A batch larger than every limit is still returned whole when it comes first (KIP-74)...
  const first = await client.request('Fetch', FETCH_VERSION, fetch('limits', [{ partition: 1, fetchOffset: 20 }, { partition: 0, fetchOffset: 0 }]));
  assert.equal(first.responses[0]!.partitions[0]!.records?.length, big.length);
  assert.equal(first.responses[0]!.partitions[1]!.records?.length ?? 0, 0, 'nothing else once the limit is used up');
  // A Fetch asking for 0 bytes gets one batch too (Kafka's minOneMessage).
  const zero = await client.request('Fetch', FETCH_VERSION, fetch('limits', [{ partition: 0, fetchOffset: 0 }], { maxBytes: 0 }));
  assert.equal(batchesOf(zero.responses[0]!.partitions[0]!.records).baseOffsets.length, 1);
  // ...but not when an earlier partition already returned data.
  const second = await client.request('Fetch', FETCH_VERSION, fetch('limits', [{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 20 }]));
  assert.equal(second.responses[0]!.partitions[1]!.records?.length ?? 0, 0);
});

test('a connection\'s response budget caps one Fetch; the budget is returned once the response is written', async (t) => {
  const { client, createTopic } = await setup(t, { 'connection.max.queued.response.bytes': 10_000 });
  await createTopic('budget');
  for (let i = 0; i < 10; i++) await client.request('Produce', PRODUCE_VERSION, produce('budget', [{ partition: 0, records: encodeBatchSync({ records: values(2, 1000, `b${i}`) }) }]));
  for (let round = 0; round < 3; round++) {
    const r = await client.request('Fetch', FETCH_VERSION, fetch('budget', [{ partition: 0, fetchOffset: 0 }]));
    const records = r.responses[0]!.partitions[0]!.records!;
    assert.ok(records.length > 5000 && records.length <= 10_000, `round ${round}: ${records.length} record bytes`);
  }
});

test('a partition named 5,000 times in one Fetch is read and answered once, with the last mention\'s offset', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('dup-fetch', 2);
  for (let i = 0; i < 5; i++) {
    for (const partition of [0, 1]) await client.request('Produce', PRODUCE_VERSION, produce('dup-fetch', [{ partition, records: encodeBatchSync({ records: values(2, 100, `d${i}`) }) }]));
  }
  const parts = Array.from({ length: 5000 }, (_, i) => ({ partition: 0, fetchOffset: i === 4999 ? 6 : 0 }));
  parts.splice(10, 0, { partition: 1, fetchOffset: 2 });
  const r = await client.request('Fetch', FETCH_VERSION, fetch('dup-fetch', parts));
  assert.equal(r.responses.length, 1);
  assert.deepEqual(r.responses[0]!.partitions.map((p) => p.partitionIndex), [0, 1], 'first mention\'s place');
  assert.deepEqual(batchesOf(r.responses[0]!.partitions[0]!.records).baseOffsets, [6, 8], 'last mention\'s offset');
  assert.deepEqual(batchesOf(r.responses[0]!.partitions[1]!.records).baseOffsets, [2, 4, 6, 8]);
  // The same through a new fetch session (v7+): one partition in the session.
  const session = await client.request('Fetch', FETCH_VERSION, fetch('dup-fetch', parts, { sessionEpoch: 0 }));
  assert.deepEqual(session.responses[0]!.partitions.map((p) => p.partitionIndex), [0, 1]);
});

test('a partition named 10,000 times in one Produce is appended once, with the last mention\'s records, and answered once', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('dup-produce', 2);
  const partitions = Array.from({ length: 10_000 }, (_, i) => ({ partition: 0, records: encodeBatchSync({ records: values(1, 10, `m${i}`) }) }));
  partitions.splice(5, 0, { partition: 1, records: encodeBatchSync({ records: values(3, 10, 'one') }) });
  const r = await client.request('Produce', PRODUCE_VERSION, produce('dup-produce', partitions));
  assert.equal(r.responses.length, 1);
  assert.deepEqual(r.responses[0]!.partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset]), [[0, ErrorCode.NONE, 0], [1, ErrorCode.NONE, 0]]);
  const latest = await client.request('ListOffsets', LIST_OFFSETS_VERSION, listLatest('dup-produce'));
  assert.equal(latest.topics[0]!.partitions[0]!.offset, 1, 'one batch of one record was appended');
  const fetched = await client.request('Fetch', FETCH_VERSION, fetch('dup-produce', [{ partition: 0, fetchOffset: 0 }]));
  const records = fetched.responses[0]!.partitions[0]!.records!;
  assert.ok(records.includes(Buffer.from('m9999-0-')), 'the last mention\'s records');
  // A topic named twice is answered in one entry.
  const twice = await client.request('Produce', PRODUCE_VERSION, {
    transactionalId: null, acks: 1, timeoutMs: 5000,
    topicData: [
      { name: 'dup-produce', partitionData: [{ index: 0, records: encodeBatchSync({ records: values(1, 10, 'a') }) }] },
      { name: 'dup-produce', partitionData: [{ index: 1, records: encodeBatchSync({ records: values(1, 10, 'b') }) }] },
    ],
  });
  assert.deepEqual(twice.responses.map((t) => [t.name, t.partitionResponses.map((p) => p.index)]), [['dup-produce', [0, 1]]]);
});
