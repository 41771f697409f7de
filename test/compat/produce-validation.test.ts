/**
 * Kafka's produce-side validation as real clients see it:
 *
 * - confluent-kafka-python (librdkafka 2.0.2) sending 100 records in one batch, 10 of them
 *   keyless, to a compacted topic. The broker answers as Kafka does (INVALID_RECORD with one
 *   record_errors entry per keyless record; packages/broker/test/produce-validation.test.ts
 *   checks the exact list), but librdkafka 2.0.2 speaks Produce v7 at most
 *   (rd_kafka_ProduceRequest_max_version in rdkafka_msgset_writer.c), which has no
 *   record_errors field, so it fails the whole batch: every one of the 100 delivery reports
 *   carries INVALID_RECORD, and nothing is appended.
 * - kcat producing uncompressed records to topics with compression.type set to each codec:
 *   the segment files on disk hold batches in the topic's codec, and kcat reads back the
 *   records as produced.
 * - kafka-python 2.0.2, which fetches with v4, against a zstd topic and a gzip topic.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { CompressionType, encodeBatch, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { partitionDirName } from '@tributary/storage';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, requireTool, run, runPython, startTestBroker } from './kit.js';

test('confluent-kafka-python: a batch with 10 keyless records of 100 to a compacted topic fails as a whole with INVALID_RECORD', { timeout: 120_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const broker = await startTestBroker(t);
  const r = await run(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/compat/py/confluent_keyless.py'), broker.bootstrap, 'compacted'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `confluent_keyless.py exited ${r.code}: ${r.stderr.slice(-3000)}`);
  const reports = r.stdout.toString('utf8').trim().split('\n').map((line) => {
    const [index, error] = line.split('\t');
    return { index: Number(index), error: error! };
  });
  assert.equal(reports.length, 100);
  for (const report of reports) {
    assert.equal(report.error, 'INVALID_RECORD', `record ${report.index}: ${report.error}`);
  }

  // Nothing was appended.
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const listed = await client.request('ListOffsets', 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 'compacted', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  assert.equal(listed.topics[0]!.partitions[0]!.offset, 0);
});

const CODECS: [string, CompressionType][] = [
  ['zstd', CompressionType.ZSTD],
  ['gzip', CompressionType.GZIP],
  ['lz4', CompressionType.LZ4],
  ['snappy', CompressionType.SNAPPY],
];

test('kcat: uncompressed records to a topic with compression.type=<codec> are stored in that codec and read back', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const lines = Array.from({ length: 2000 }, (_, i) => `key-${i}\tvalue-${i}-${'abcdefghij'.repeat(i % 13)}`);
  for (const [name, codec] of CODECS) {
    const topic = `stored-${name}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'compression.type', value: name }] }], waitForLeaders: true }), true);
    const produced = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-K', '\t', '-X', 'compression.codec=none', '-X', 'acks=all'], { input: lines.join('\n') + '\n' });
    assert.equal(produced.code, 0, `kcat -P to ${topic}: ${produced.stderr}`);

    const segment = readFileSync(join(broker.dataDir, partitionDirName(topic, 0), '00000000000000000000.log'));
    const codecs: number[] = [];
    let records = 0;
    forEachBatch(segment, (at) => {
      const header = readBatchHeader(segment, at);
      codecs.push(header.compression);
      records += header.recordCount;
    });
    assert.ok(codecs.length > 0);
    assert.deepEqual(new Set(codecs), new Set([codec]), `${topic}: every batch on disk is ${name}`);
    assert.equal(records, lines.length);

    const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n']);
    assert.equal(consumed.code, 0, `kcat -C ${topic}: ${consumed.stderr}`);
    assert.deepEqual(consumed.stdout.toString('utf8').trim().split('\n'), lines);
  }
});

/**
 * kafka-python 2.0.2 reads with Fetch v4 (before zstd). From a topic whose compression.type
 * is zstd it gets UNSUPPORTED_COMPRESSION_TYPE (76), a code it does not know: it logs
 * "Unknown error fetching data" and returns no records, as against Kafka. From a gzip topic
 * (records recompressed by the broker) it reads everything.
 */
const KAFKA_PYTHON_READ = `
import logging, sys
from kafka import KafkaConsumer
class Seen(logging.Handler):
    def __init__(self):
        super().__init__()
        self.unknown = 0
    def emit(self, record):
        if 'Unknown error fetching data' in record.getMessage():
            self.unknown += 1
seen = Seen()
logging.getLogger('kafka.consumer.fetcher').addHandler(seen)
logging.getLogger('kafka.consumer.fetcher').setLevel(logging.WARNING)
consumer = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], auto_offset_reset='earliest', consumer_timeout_ms=4000, enable_auto_commit=False)
count = sum(1 for _ in consumer)
print('%d\\t%d' % (count, seen.unknown))
`;

test('kafka-python (Fetch v4) gets UNSUPPORTED_COMPRESSION_TYPE from a zstd topic and reads a recompressed gzip topic', { timeout: 120_000 }, async (t) => {
  requirePythonModule('kafka');
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  for (const codec of ['zstd', 'gzip']) {
    const topic = `old-reader-${codec}`;
    const created = await client.request('CreateTopics', 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'compression.type', value: codec }] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(created.topics[0]!.errorCode, 0);
    const batch = await encodeBatch({ records: Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })) });
    const produced = await client.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, 0);
  }
  const zstd = await runPython(KAFKA_PYTHON_READ, [broker.bootstrap, 'old-reader-zstd'], { timeoutMs: 60_000 });
  assert.equal(zstd.code, 0, zstd.stderr.slice(-3000));
  const [zstdCount, zstdUnknown] = zstd.stdout.toString('utf8').trim().split('\t').map(Number);
  assert.equal(zstdCount, 0);
  assert.ok(zstdUnknown! > 0, 'kafka-python saw the error code it does not know');
  const gzip = await runPython(KAFKA_PYTHON_READ, [broker.bootstrap, 'old-reader-gzip'], { timeoutMs: 60_000 });
  assert.equal(gzip.code, 0, gzip.stderr.slice(-3000));
  assert.deepEqual(gzip.stdout.toString('utf8').trim().split('\t').map(Number), [10, 0]);
});
