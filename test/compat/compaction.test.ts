/**
 * Compacted topics as real clients see them (issue #18):
 * - confluent-kafka-python (librdkafka) creates a compacted topic and writes 3,000 records
 *   over 30 keys (lz4), then tombstones two keys; the broker's cleaner (worker thread,
 *   log.cleaner.backoff.ms shortened) compacts the rolled segments, DescribeLogDirs shows
 *   the partition shrink, and kcat reading from the beginning gets the latest value of
 *   every key, offsets increasing with gaps, the tombstones (delete.retention.ms is a day)
 *   and far fewer records than were written.
 * - kcat producing a keyless record to that topic gets Kafka's refusal (INVALID_RECORD)
 *   and nothing is appended.
 */
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, requireTool, run, startTestBroker, waitFor } from './kit.js';

const RECORDS = 3000;
const KEYS = 30;

test('confluent-kafka-python writes, the cleaner compacts, kcat reads the latest value of every key', { timeout: 180_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  requireTool('kcat');
  const broker = await startTestBroker(t, { 'log.cleaner.backoff.ms': 100 });
  const topic = 'compacted';
  const produced = await run(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/compat/py/confluent_compaction.py'), broker.bootstrap, topic, String(RECORDS), String(KEYS)], { timeoutMs: 120_000 });
  assert.equal(produced.stdout.toString().trim(), 'OK', `confluent_compaction.py: ${produced.stderr.toString().slice(-2000)}`);

  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const partitionSize = async (): Promise<number> => {
    const dirs = await client.request('DescribeLogDirs', 4, { topics: [{ topic, partitions: [0] }] });
    return dirs.results[0]!.topics[0]!.partitions[0]!.partitionSize;
  };
  // The first size DescribeLogDirs reports may already be partly cleaned; the written
  // size is at least the records' values and keys.
  const minimumWritten = RECORDS * 'value-0000key-00'.length;
  const small = await waitFor('the cleaner to shrink the partition', 60_000, async () => {
    const size = await partitionSize();
    return size < minimumWritten / 4 ? size : undefined;
  }, () => 'partition still large');
  assert.ok(small > 0);

  const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-Z', '-f', '%o\t%k\t%s\n'], { timeoutMs: 60_000 });
  assert.equal(consumed.code, 0, consumed.stderr.toString());
  const lines = consumed.stdout.toString().trim().split('\n').map((line) => {
    const [offset, key, value] = line.split('\t');
    return { offset: Number(offset), key: key!, value: value! };
  });
  let previous = -1;
  const last = new Map<string, { offset: number; value: string }>();
  for (const l of lines) {
    assert.ok(l.offset > previous, `offsets increase: ${l.offset} after ${previous}`);
    previous = l.offset;
    last.set(l.key, { offset: l.offset, value: l.value });
  }
  assert.ok(lines.length < RECORDS / 4, `${lines.length} records read back of ${RECORDS + 2} written`);
  assert.ok(lines[0]!.offset > 0 || lines.some((l, i) => i > 0 && l.offset > lines[i - 1]!.offset + 1), 'compaction left offset gaps');
  assert.equal(previous, RECORDS + 1, 'the last offset is the last tombstone');
  for (let k = 0; k < KEYS; k++) {
    const key = `key-${k}`;
    const latestIndex = RECORDS - KEYS + ((k - (RECORDS % KEYS) + KEYS) % KEYS);
    if (k < 2) assert.deepEqual(last.get(key), { offset: RECORDS + k, value: 'NULL' }, `${key} ends with its tombstone`);
    else assert.deepEqual(last.get(key), { offset: latestIndex, value: `value-${latestIndex}` }, `latest value of ${key}`);
  }
});

test('kcat: a keyless record to a compacted topic is refused with INVALID_RECORD, nothing appended', { timeout: 120_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const topic = 'compacted-keyless';
  const created = await run(DEBIAN_PYTHON, ['-c', `
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for t, f in admin.create_topics([NewTopic(sys.argv[2], num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})]).items():
    f.result(timeout=30)
print("OK")
`, broker.bootstrap, topic], { timeoutMs: 60_000 });
  assert.equal(created.stdout.toString().trim(), 'OK', created.stderr.toString());
  const r = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-X', 'message.send.max.retries=0'], { input: 'no key here\n', timeoutMs: 60_000 });
  const stderr = r.stderr.toString();
  assert.match(stderr, /Broker failed to validate record|INVALID_RECORD/i, `kcat stderr: ${stderr}`);
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const listed = await client.request('ListOffsets', 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  assert.equal(listed.topics[0]!.partitions[0]!.offset, 0);
});
