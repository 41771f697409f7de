/**
 * Produce against a real broker over a real socket, with raw requests so that every field
 * of the response can be checked against Kafka's: pipelining order across the synchronous
 * (uncompressed, empty queue) and queued (compressed) append paths, per-partition results,
 * acks validation, min.insync.replicas, acks=0 (and its failures), CRC failures and
 * idempotent duplicates.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiKey,
  BatchLayout,
  CompressionType,
  ErrorCode,
  Reader,
  apiSpecByKey,
  decodeBatch,
  decodeResponseHeader,
  encodeBatch,
  encodeBatchSync,
  forEachBatch,
  responseHeaderVersion,
  type EncodeBatchOptions,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '@tributary/protocol';
import { RawClient } from './helpers/raw-client.js';
import { createTopic as createTopicOn, fetchPartition, startBrokerWithClient, type TestContext } from './helpers/broker.js';
import { framePool } from '../src/network/frame-pool.js';
import { LOG_CREATION_STEP } from '../src/replica/replica-manager.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
const LIST_OFFSETS_VERSION = 7;
const LATEST_TIMESTAMP = -1;

async function setup(t: TestContext) {
  const { broker, client } = await startBrokerWithClient(t, 'produce');

  const createTopic = (name: string, numPartitions: number, configs: Record<string, string> = {}) => createTopicOn(client, name, configs, numPartitions);

  /** ListOffsets latest: the log end offset a consumer sees (the high watermark). */
  const latestOffset = async (topic: string, partition: number): Promise<number> => {
    const r = await client.request('ListOffsets', LIST_OFFSETS_VERSION, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: LATEST_TIMESTAMP }] }],
    });
    const p = r.topics[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE, `ListOffsets ${topic}-${partition}`);
    return p.offset!;
  };

  /** Every record of the partition from offset 0, as [offset, value] pairs in log order. */
  const fetchAll = async (topic: string, partition: number): Promise<[number, string][]> => {
    const r = await fetchPartition(client, FETCH_VERSION, topic, partition);
    assert.equal(r.errorCode, ErrorCode.NONE);
    const p = r.responses[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE, `Fetch ${topic}-${partition}`);
    const out: [number, string][] = [];
    const records = p.records ?? Buffer.alloc(0);
    const starts: number[] = [];
    const scan = forEachBatch(records, (at) => starts.push(at));
    assert.equal(scan.partialBytes, 0, 'the fetch holds whole batches only');
    // decodeBatch, not decodeBatchSync: zstd batches decompress asynchronously only.
    for (const at of starts) {
      for (const record of (await decodeBatch(records, at)).records) out.push([record.offset, record.value?.toString() ?? '<null>']);
    }
    return out;
  };

  return { broker, client, createTopic, latestOffset, fetchAll };
}

function produceRequest(acks: number, topicData: { topic: string; partitions: { partition: number; records: Buffer | null }[] }[]): ProduceRequest {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: topicData.map((t) => ({ name: t.topic, partitionData: t.partitions.map((p) => ({ index: p.partition, records: p.records })) })),
  };
}

/** The one partition result of a single-partition produce. */
function only(r: ProduceResponse): ProduceResponsePartitionProduceResponse {
  assert.equal(r.responses.length, 1);
  assert.equal(r.responses[0]!.partitionResponses.length, 1);
  return r.responses[0]!.partitionResponses[0]!;
}

function batchOf(values: string[], options: Omit<EncodeBatchOptions, 'records'> = {}): Buffer {
  return encodeBatchSync({ ...options, records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
}

/** Decodes one Produce response frame read with RawClient.next(), returning its correlation id too. */
function decodeProduceFrame(frame: Buffer): { correlationId: number; response: ProduceResponse } {
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(ApiKey.Produce, PRODUCE_VERSION));
  const response = apiSpecByKey(ApiKey.Produce)!.decodeResponse(r, PRODUCE_VERSION) as ProduceResponse;
  assert.equal(r.remaining, 0, 'no trailing bytes in the Produce response');
  return { correlationId: header.correlationId, response };
}

/** Resolves with a frame if one arrives within `ms`, else null (the client saw nothing). */
async function frameWithin(client: RawClient, ms: number): Promise<Buffer | null> {
  try {
    return await client.next(ms);
  } catch (err) {
    if ((err as Error).message.includes('timed out')) return null;
    throw err;
  }
}

test('pipelined produces to one partition, compressed and not, are answered and appended in request order', async (t) => {
  const { broker, createTopic, fetchAll, latestOffset } = await setup(t);
  await createTopic('order', 2);
  const pipe = await RawClient.open(broker.port);
  t.after(() => pipe.close());

  const REQUESTS = 60;
  const FIRST_CORRELATION_ID = 1000;
  const sent: { partition: number; values: string[] }[] = [];
  const nextOffset = [0, 0];
  let answered = 0;
  const readAnswers = async (upTo: number) => {
    for (; answered < upTo; answered++) {
      const i = answered;
      const { correlationId, response } = decodeProduceFrame(await pipe.next());
      assert.equal(correlationId, FIRST_CORRELATION_ID + i, `response ${i} is the answer to request ${i}`);
      const p = only(response);
      const { partition, values } = sent[i]!;
      assert.equal(p.index, partition);
      assert.equal(p.errorCode, ErrorCode.NONE, `request ${i}: ${p.errorMessage}`);
      assert.equal(p.baseOffset, nextOffset[partition], `request ${i} starts where the previous request to order-${partition} ended`);
      nextOffset[partition]! += values.length;
    }
  };

  for (let i = 0; i < REQUESTS; i++) {
    // Partition 0 alternates uncompressed and gzip batches. The gzip ones are decompressed
    // off-thread through the partition's append queue, so uncompressed requests behind
    // them arrive while the queue is busy and must wait their turn. Every fifth request
    // goes to partition 1 uncompressed: it completes synchronously while earlier
    // requests to partition 0 are still pending, and its response must wait for theirs.
    const partition = i % 5 === 4 ? 1 : 0;
    const compression = partition === 0 && i % 2 === 1 ? CompressionType.GZIP : CompressionType.NONE;
    // ~1 KiB values: the final Fetch answer is well over the connection's 32 KiB copy limit.
    const values = Array.from({ length: 1 + (i % 4) }, (_, j) => `m${i}-${j}:${'x'.repeat(1000)}`);
    sent.push({ partition, values });
    pipe.send(ApiKey.Produce, PRODUCE_VERSION, FIRST_CORRELATION_ID + i, produceRequest(1, [{ topic: 'order', partitions: [{ partition, records: batchOf(values, { compression }) }] }]));
    // Every twelve requests, wait for all answers so far: partition 0's queue is then
    // empty, and the next uncompressed request to it takes the synchronous path again.
    if (i % 12 === 11) await readAnswers(i + 1);
  }
  await readAnswers(REQUESTS);
  assert.equal(await frameWithin(pipe, 50), null, 'one response per request, no more');

  for (const partition of [0, 1]) {
    const expected = sent.filter((s) => s.partition === partition).flatMap((s) => s.values);
    assert.equal(await latestOffset('order', partition), expected.length);
    const fetched = await fetchAll('order', partition);
    assert.deepEqual(fetched, expected.map((value, offset) => [offset, value]), `order-${partition} holds every record once, in the order sent`);
  }
});

test('request memory is reused for Produce requests answered at once, and every record stays as sent', async (t) => {
  // Frames of synchronously answered Produce requests go back to the frame pool and carry
  // the requests of the next reads. Each round opens with a gzip request to partition 1,
  // which is decompressed off the event loop and so keeps its frame, while the
  // uncompressed requests behind it (partition 0) are answered at once. Random values keep
  // both kinds in one size class of the pool; every record of both partitions must read
  // back as sent.
  const { broker, createTopic, fetchAll } = await setup(t);
  await createTopic('reuse', 2);
  const pipe = await RawClient.open(broker.port);
  t.after(() => pipe.close());
  const REQUESTS = 200;
  const ROUND = 20;
  const reusedBefore = framePool.reused;
  const expected: string[][] = [[], []];
  for (let round = 0; round < REQUESTS / ROUND; round++) {
    for (let i = round * ROUND; i < (round + 1) * ROUND; i++) {
      const partition = i % ROUND === 0 ? 1 : 0;
      const compression = partition === 1 ? CompressionType.GZIP : CompressionType.NONE;
      const values = [`r${i}:${randomBytes(1200).toString('base64')}`];
      expected[partition]!.push(...values);
      pipe.send(ApiKey.Produce, PRODUCE_VERSION, i, produceRequest(1, [{ topic: 'reuse', partitions: [{ partition, records: batchOf(values, { compression }) }] }]));
    }
    for (let i = round * ROUND; i < (round + 1) * ROUND; i++) {
      const { correlationId, response } = decodeProduceFrame(await pipe.next());
      assert.equal(correlationId, i);
      assert.equal(only(response).errorCode, ErrorCode.NONE, `request ${i}: ${only(response).errorMessage}`);
    }
  }
  assert.ok(framePool.reused - reusedBefore >= REQUESTS / 2, `frames reused: ${framePool.reused - reusedBefore} of ${REQUESTS}`);
  for (const partition of [0, 1]) {
    assert.deepEqual(await fetchAll('reuse', partition), expected[partition]!.map((value, offset) => [offset, value]), `reuse-${partition}`);
  }
});

test('one request to several partitions, mixed codecs and an unknown topic, is answered per partition', async (t) => {
  const { client, createTopic, fetchAll, latestOffset } = await setup(t);
  await createTopic('multi', 5);
  const codecs = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD];
  const valuesOf = (round: number, partition: number) => Array.from({ length: partition + 1 }, (_, j) => `r${round}-p${partition}-${j}`);
  const request = async (round: number) =>
    produceRequest(1, [
      { topic: 'multi', partitions: await Promise.all(codecs.map(async (compression, partition) => ({ partition, records: await encodeBatch({ compression, records: valuesOf(round, partition).map((v) => ({ value: Buffer.from(v) })) }) }))) },
      { topic: 'no-such-topic', partitions: [{ partition: 0, records: batchOf(['lost']) }] },
      { topic: 'multi', partitions: [{ partition: 7, records: batchOf(['lost']) }] },
    ]);

  for (const round of [0, 1]) {
    const r = await client.request('Produce', PRODUCE_VERSION, await request(round));
    // A topic named twice is answered once (Kafka builds the response from a map keyed by
    // topic-partition, grouped by topic name).
    assert.deepEqual(r.responses.map((topic) => topic.name), ['multi', 'no-such-topic'], 'each topic is answered once');
    const known = r.responses[0]!.partitionResponses.slice(0, 5);
    assert.deepEqual(r.responses[0]!.partitionResponses.map((p) => p.index), [0, 1, 2, 3, 4, 7]);
    for (const p of known) {
      assert.equal(p.errorCode, ErrorCode.NONE, `multi-${p.index} (codec ${codecs[p.index]}): ${p.errorMessage}`);
      assert.equal(p.baseOffset, round === 0 ? 0 : p.index + 1, `multi-${p.index} round ${round}`);
      assert.equal(p.logStartOffset, 0);
    }
    for (const unknown of [r.responses[1]!.partitionResponses[0]!, r.responses[0]!.partitionResponses[5]!]) {
      assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal(unknown.baseOffset, -1);
    }
  }

  for (let partition = 0; partition < codecs.length; partition++) {
    assert.equal(await latestOffset('multi', partition), 2 * (partition + 1));
    const values = (await fetchAll('multi', partition)).map(([, v]) => v);
    assert.deepEqual(values, [...valuesOf(0, partition), ...valuesOf(1, partition)]);
  }
  // Produce does not create topics (Kafka auto-creates from Metadata only).
  const listed = await client.request('ListOffsets', LIST_OFFSETS_VERSION, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 'no-such-topic', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: LATEST_TIMESTAMP }] }],
  });
  assert.equal(listed.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('a topic of many partitions gets its logs in steps; a partition without its log yet answers NOT_LEADER_OR_FOLLOWER', async (t) => {
  const { broker, client, latestOffset } = await setup(t);
  const { metadata, replicaManager, logManager, nodeId } = broker.services;
  const count = LOG_CREATION_STEP * 3 + 5;
  const last = count - 1;
  const partitions = Array.from({ length: count }, () => ({ replicas: [nodeId], leader: nodeId, isr: [nodeId] }));
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  // Each turn creates at most LOG_CREATION_STEP logs, fewer when they are slow to make
  // (LOG_CREATION_TURN_MS); wait turn by turn, boundedly, until `done` holds.
  const turnsUntil = async (done: () => boolean) => {
    for (let i = 0; !done(); i++) {
      assert.ok(i < 100_000, 'log creation made no progress');
      await turns(1);
    }
  };

  await metadata.createTopic({ name: 'steps', partitions });
  // The first step ran with the metadata change; the rest wait for later turns of the loop.
  assert.ok(logManager.getLog('steps', LOG_CREATION_STEP - 1) !== undefined);
  assert.equal(logManager.getLog('steps', last), undefined);
  assert.deepEqual(replicaManager.partition('steps', last), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  await turnsUntil(() => logManager.getLog('steps', last) !== undefined);
  const r = await client.request('Produce', PRODUCE_VERSION, produceRequest(1, [{ topic: 'steps', partitions: [{ partition: last, records: batchOf(['at the end']) }] }]));
  assert.equal(only(r).errorCode, ErrorCode.NONE);
  assert.equal(await latestOffset('steps', last), 1);

  // Deleted before its steps ran: the remaining partitions never get a log or a directory.
  await metadata.createTopic({ name: 'short-lived', partitions });
  await metadata.deleteTopic('short-lived');
  await turns(LOG_CREATION_STEP);
  assert.equal(logManager.getLog('short-lived', last), undefined);
  assert.equal(existsSync(join(broker.dataDir, `short-lived-${last}`)), false);
  assert.deepEqual(replicaManager.partition('short-lived', last), { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });

  // Deleted and created again under the same name before the first one's steps ran: the
  // old steps leave the new topic's partitions alone, which get their own logs.
  // The old topic's steps run ahead of the new one's: after one more turn the old steps
  // have passed partition `ahead`, and the new ones have not created it yet.
  const ahead = LOG_CREATION_STEP * 2 + 50;
  await metadata.createTopic({ name: 'again', partitions });
  await turns(1);
  await metadata.deleteTopic('again');
  await metadata.createTopic({ name: 'again', partitions });
  await turns(1);
  assert.equal(logManager.getLog('again', ahead), undefined);
  assert.deepEqual(replicaManager.partition('again', ahead), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  await turnsUntil(() => logManager.getLog('again', last) !== undefined);
  assert.ok(logManager.getLog('again', ahead) !== undefined);
});

test('acks=2 is refused with INVALID_REQUIRED_ACKS on every partition and nothing is appended', async (t) => {
  const { client, createTopic, latestOffset } = await setup(t);
  await createTopic('acks', 2);
  const r = await client.request('Produce', PRODUCE_VERSION, produceRequest(2, [{
    topic: 'acks',
    partitions: [
      { partition: 0, records: batchOf(['a', 'b']) },
      { partition: 1, records: batchOf(['c'], { compression: CompressionType.GZIP }) },
    ],
  }]));
  const partitions = r.responses[0]!.partitionResponses;
  assert.deepEqual(partitions.map((p) => [p.index, p.errorCode, p.baseOffset]), [
    [0, ErrorCode.INVALID_REQUIRED_ACKS, -1],
    [1, ErrorCode.INVALID_REQUIRED_ACKS, -1],
  ]);
  assert.equal(await latestOffset('acks', 0), 0);
  assert.equal(await latestOffset('acks', 1), 0);
});

// Kafka's KafkaApis.handleProduceRequest answers unknown partitions with
// UNKNOWN_TOPIC_OR_PARTITION before ReplicaManager.appendRecords looks at acks, so only
// partitions that exist get INVALID_REQUIRED_ACKS.
test('acks=2 still answers UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist', async (t) => {
  const { client, createTopic } = await setup(t);
  await createTopic('acks', 1);
  const r = await client.request('Produce', PRODUCE_VERSION, produceRequest(2, [
    { topic: 'acks', partitions: [{ partition: 0, records: batchOf(['a']) }] },
    { topic: 'no-such-topic', partitions: [{ partition: 0, records: batchOf(['b']) }] },
  ]));
  assert.deepEqual(r.responses.map((topic) => [topic.name, topic.partitionResponses[0]!.errorCode]), [
    ['acks', ErrorCode.INVALID_REQUIRED_ACKS],
    ['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
  ]);
});

test('acks=-1 below min.insync.replicas is refused before appending; acks=1 is accepted', async (t) => {
  const { client, createTopic, latestOffset, fetchAll } = await setup(t);
  await createTopic('min-isr', 1, { 'min.insync.replicas': '2' });

  for (const compression of [CompressionType.NONE, CompressionType.GZIP]) {
    const refused = only(await client.request('Produce', PRODUCE_VERSION, produceRequest(-1, [{ topic: 'min-isr', partitions: [{ partition: 0, records: batchOf(['x', 'y'], { compression }) }] }])));
    assert.equal(refused.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS, `codec ${compression}`);
    assert.equal(refused.errorMessage, null, 'Kafka sends no message with NOT_ENOUGH_REPLICAS');
    assert.equal(refused.baseOffset, -1);
    assert.equal(await latestOffset('min-isr', 0), 0, 'NOT_ENOUGH_REPLICAS means nothing was written');
  }

  const accepted = only(await client.request('Produce', PRODUCE_VERSION, produceRequest(1, [{ topic: 'min-isr', partitions: [{ partition: 0, records: batchOf(['ok-1', 'ok-2']) }] }])));
  assert.equal(accepted.errorCode, ErrorCode.NONE, accepted.errorMessage ?? '');
  assert.equal(accepted.baseOffset, 0);
  assert.equal(await latestOffset('min-isr', 0), 2);

  const again = only(await client.request('Produce', PRODUCE_VERSION, produceRequest(-1, [{ topic: 'min-isr', partitions: [{ partition: 0, records: batchOf(['z']) }] }])));
  assert.equal(again.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.deepEqual(await fetchAll('min-isr', 0), [[0, 'ok-1'], [1, 'ok-2']]);
});

test('acks=0 gets no response, and the next request on the connection gets its own', async (t) => {
  const { broker, createTopic, latestOffset, fetchAll } = await setup(t);
  await createTopic('fire', 1);
  const conn = await RawClient.open(broker.port);
  t.after(() => conn.close());

  // A gzip batch (queued path) then an uncompressed one, both acks=0, then acks=1.
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 1, produceRequest(0, [{ topic: 'fire', partitions: [{ partition: 0, records: batchOf(['f0', 'f1'], { compression: CompressionType.GZIP }) }] }]));
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 2, produceRequest(0, [{ topic: 'fire', partitions: [{ partition: 0, records: batchOf(['f2']) }] }]));
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 3, produceRequest(1, [{ topic: 'fire', partitions: [{ partition: 0, records: batchOf(['a3']) }] }]));

  const { correlationId, response } = decodeProduceFrame(await conn.next());
  assert.equal(correlationId, 3, 'the first frame back answers the acks=1 request');
  const p = only(response);
  assert.equal(p.errorCode, ErrorCode.NONE);
  assert.equal(p.baseOffset, 3, 'the three acks=0 records were appended before it');
  assert.equal(await frameWithin(conn, 100), null, 'the acks=0 requests are never answered');

  assert.equal(await latestOffset('fire', 0), 4);
  assert.deepEqual(await fetchAll('fire', 0), [[0, 'f0'], [1, 'f1'], [2, 'f2'], [3, 'a3']]);
});

// Kafka closes the connection of an acks=0 producer whose request failed
// (KafkaApis.handleProduceRequest: closeConnection), since it reads no responses.
test('a failed acks=0 produce closes the connection after the earlier responses', async (t) => {
  const { broker, createTopic, latestOffset, fetchAll } = await setup(t);
  await createTopic('fire0', 1);
  const conn = await RawClient.open(broker.port);
  t.after(() => conn.close());
  const corrupt = batchOf(['bad']);
  corrupt[corrupt.length - 1]! ^= 0x01;
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 1, produceRequest(1, [{ topic: 'fire0', partitions: [{ partition: 0, records: batchOf(['k0']) }] }]));
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 2, produceRequest(0, [{ topic: 'fire0', partitions: [{ partition: 0, records: batchOf(['k1']) }] }]));
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 3, produceRequest(0, [{ topic: 'fire0', partitions: [{ partition: 0, records: corrupt }] }]));
  conn.send(ApiKey.Produce, PRODUCE_VERSION, 4, produceRequest(1, [{ topic: 'fire0', partitions: [{ partition: 0, records: batchOf(['never']) }] }]));

  const { correlationId } = decodeProduceFrame(await conn.next());
  assert.equal(correlationId, 1, 'the response before the failure is written');
  await assert.rejects(conn.next(2000), /connection closed/, 'then the connection is closed; request 4 is not answered');
  assert.ok(conn.closed);
  assert.deepEqual(await fetchAll('fire0', 0), [[0, 'k0'], [1, 'k1']], 'the good acks=0 batch was kept, the corrupt one refused');
  assert.equal(await latestOffset('fire0', 0), 2);
});

test('a batch with a bad CRC gets CORRUPT_MESSAGE, is not appended, and the connection stays usable', async (t) => {
  const { client, createTopic, latestOffset, fetchAll } = await setup(t);
  await createTopic('crc', 1);
  for (const compression of [CompressionType.NONE, CompressionType.GZIP]) {
    const corrupt = batchOf(['good value'], { compression });
    // Flip a bit of the last byte: inside the CRC-covered records, the header stays sane.
    corrupt[corrupt.length - 1]! ^= 0x01;
    assert.ok(corrupt.length > BatchLayout.HEADER_SIZE);
    const r = only(await client.request('Produce', PRODUCE_VERSION, produceRequest(1, [{ topic: 'crc', partitions: [{ partition: 0, records: corrupt }] }])));
    assert.equal(r.errorCode, ErrorCode.CORRUPT_MESSAGE, `codec ${compression}: ${r.errorMessage}`);
    assert.equal(r.baseOffset, -1);
    // Kafka's "unknown append info": no message and no log start offset.
    assert.equal(r.errorMessage, null);
    assert.equal(r.logStartOffset, -1);
    assert.equal(await latestOffset('crc', 0), 0);
  }

  const ok = only(await client.request('Produce', PRODUCE_VERSION, produceRequest(1, [{ topic: 'crc', partitions: [{ partition: 0, records: batchOf(['after']) }] }])));
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(ok.baseOffset, 0);
  assert.deepEqual(await fetchAll('crc', 0), [[0, 'after']]);
});

test('idempotent producer: a resent batch is answered with its first offsets, a sequence gap is refused', async (t) => {
  const { client, createTopic, latestOffset, fetchAll } = await setup(t);
  await createTopic('idem', 1);
  const init = await client.request('InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  assert.ok(init.producerId >= 0);
  const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };
  const produce = async (records: Buffer) => only(await client.request('Produce', PRODUCE_VERSION, produceRequest(-1, [{ topic: 'idem', partitions: [{ partition: 0, records }] }])));

  // Sync path: uncompressed, nothing queued. The same bytes twice, as a retrying producer sends them.
  const first = batchOf(['i0', 'i1', 'i2'], { ...producer, baseSequence: 0 });
  const a = await produce(first);
  assert.equal(a.errorCode, ErrorCode.NONE, a.errorMessage ?? '');
  assert.equal(a.baseOffset, 0);
  const b = await produce(batchOf(['i0', 'i1', 'i2'], { ...producer, baseSequence: 0 }));
  assert.equal(b.errorCode, ErrorCode.NONE, 'a duplicate is acknowledged, not refused');
  assert.equal(b.baseOffset, a.baseOffset, 'with the offset of the original append');
  assert.equal(await latestOffset('idem', 0), 3, 'the duplicate is not appended again');

  // A gap in the sequence (3 expected, 10 sent).
  const gap = await produce(batchOf(['g'], { ...producer, baseSequence: 10 }));
  assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal(gap.baseOffset, -1);
  assert.equal(await latestOffset('idem', 0), 3);

  // The next sequence in order is still accepted, compressed (queued path) and then resent.
  const next = await produce(batchOf(['i3', 'i4'], { ...producer, baseSequence: 3, compression: CompressionType.GZIP }));
  assert.equal(next.errorCode, ErrorCode.NONE, next.errorMessage ?? '');
  assert.equal(next.baseOffset, 3);
  const nextAgain = await produce(batchOf(['i3', 'i4'], { ...producer, baseSequence: 3, compression: CompressionType.GZIP }));
  assert.equal(nextAgain.errorCode, ErrorCode.NONE);
  assert.equal(nextAgain.baseOffset, 3);

  assert.deepEqual(await fetchAll('idem', 0), [[0, 'i0'], [1, 'i1'], [2, 'i2'], [3, 'i3'], [4, 'i4']]);
});
