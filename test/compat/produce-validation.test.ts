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
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { CompressionType, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { partitionDirName } from '@tributary/storage';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, requireTool, run, startTestBroker } from './kit.js';

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
