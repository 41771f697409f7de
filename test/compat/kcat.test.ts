/**
 * kcat (librdkafka 2.0.2, from Debian) against a real broker: produce RECORD_COUNT (10,000; 100,000 in long mode) keyed records
 * with a header in every compression codec librdkafka supports, read them back, and check
 * they are identical, in order, at contiguous offsets. The broker validates (and, for
 * compressed batches, decompresses) every batch librdkafka sends, so this is also the
 * check of our codecs against librdkafka's bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { CompressionType, encodeBatch } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { requireTool, run, startTestBroker } from './kit.js';
import { assertRoundTrip, HEADER_KEY, HEADER_VALUE, keyValueLines, RECORD_COUNT, type ConsumedRecord } from './records.js';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

test(`kcat produces and consumes ${RECORD_COUNT.toLocaleString('en-US')} keyed records with headers in every codec`, { timeout: 300_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const input = keyValueLines();

  for (const codec of CODECS) {
    const topic = `kcat-${codec}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    const produced = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', topic, '-K', '\t', '-H', `${HEADER_KEY}=${HEADER_VALUE}`, '-X', `compression.codec=${codec}`, '-X', 'acks=all'], { input });
    assert.equal(produced.code, 0, `kcat -P (${codec}) failed: ${produced.stderr}`);

    const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\t%o\t%h\n']);
    assert.equal(consumed.code, 0, `kcat -C (${codec}) failed: ${consumed.stderr}`);
    const records = parseKcat(consumed.stdout.toString('utf8'));
    assertRoundTrip(records);
  }
});

test('kcat reads batches compressed by our own encoder, in every codec', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const count = 2000;
  for (const [codec, type] of Object.entries(CompressionType)) {
    const topic = `ours-${codec.toLowerCase()}`;
    const created = await client.request('CreateTopics', 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(created.topics[0]!.errorCode, 0);
    // Four batches of 500 records each, built and compressed by @tributary/protocol.
    for (let start = 0; start < count; start += 500) {
      const records = Array.from({ length: 500 }, (_, j) => {
        const i = start + j;
        return { key: Buffer.from(`key-${i}`), value: Buffer.from(`value-${i}-${'abcdefghij'.repeat((i * 7919) % 21)}`), timestamp: Date.now(), headers: [{ key: HEADER_KEY, value: Buffer.from(HEADER_VALUE) }] };
      });
      const batch = await encodeBatch({ compression: type, records });
      const produced = await client.request('Produce', 9, { acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      const p = produced.responses[0]!.partitionResponses[0]!;
      assert.equal(p.errorCode, 0, `produce ${codec}: ${p.errorMessage}`);
      assert.equal(p.baseOffset, start);
    }
    const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\t%o\t%h\n']);
    assert.equal(consumed.code, 0, `kcat -C (${codec}) failed: ${consumed.stderr}`);
    assertRoundTrip(parseKcat(consumed.stdout.toString('utf8')), { count });
  }
});

test('kcat reads from an arbitrary offset and by timestamp', { timeout: 60_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const topic = 'kcat-offsets';
  const input = keyValueLines(1000);
  const produced = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', topic, '-K', '\t', '-H', `${HEADER_KEY}=${HEADER_VALUE}`], { input });
  assert.equal(produced.code, 0, produced.stderr);
  const fromMiddle = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', '500', '-e', '-q', '-f', '%k\t%s\t%o\t%h\n']);
  assert.equal(fromMiddle.code, 0, fromMiddle.stderr);
  const records = parseKcat(fromMiddle.stdout.toString('utf8'));
  assert.equal(records.length, 500);
  assert.equal(records[0]!.offset, 500);
  assert.equal(records[0]!.key, 'key-500');
  const tail = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', '-10', '-e', '-q', '-f', '%o\n']);
  assert.deepEqual(tail.stdout.toString().trim().split('\n').map(Number), [990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
});

export function parseKcat(text: string): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [key, value, offset, headerText] = line.split('\t');
    const headers: Record<string, string> = {};
    for (const h of (headerText ?? '').split(',')) {
      const eq = h.indexOf('=');
      if (eq > 0) headers[h.slice(0, eq)] = h.slice(eq + 1);
    }
    out.push({ key: key!, value: value!, offset: Number(offset), headers });
  }
  return out;
}
