/**
 * kafka-python 2.0 (Debian) pinned to Kafka 0.9 and 0.10: it then writes message format v0
 * (Produce v1) or v1 (Produce v2) and reads with Fetch v1 / v2 and ListOffsets v0 / v1, in
 * every codec those formats have, including LZ4 under magic 0 with its non-standard frame
 * header checksum (KAFKA-3160). The broker stores v2 batches and converts back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, run, startTestBroker } from './kit.js';

const SCRIPT = join(REPO_ROOT, 'test/compat/py/kafka_python_old_protocol.py');
const COUNT = 2000;

test('kafka-python with api_version 0.9 and 0.10 round-trips keyed messages in every old codec', { timeout: 300_000 }, async (t) => {
  requirePythonModule('kafka');
  const broker = await startTestBroker(t);
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  for (const api of ['0.9', '0.10']) {
    for (const codec of ['none', 'gzip', 'snappy', 'lz4']) {
      const topic = `kafka-python-${api.replace('.', '-')}-${codec}`;
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
      const startMs = Date.now();
      const out = await run(DEBIAN_PYTHON, [SCRIPT, broker.bootstrap, topic, api, codec, String(COUNT)], { timeoutMs: 120_000 });
      assert.equal(out.code, 0, `${topic}: kafka-python failed:\n${out.stderr}`);
      const lines = out.stdout.toString('utf8').split('\n').filter((l) => l !== '');
      assert.equal(lines.length, COUNT, `${topic}: expected ${COUNT} messages`);
      lines.forEach((line, i) => {
        const [key, value, offset, timestamp] = line.split('\t');
        assert.deepEqual([key, value, Number(offset)], [`key-${i}`, `value-${i}`, i], `${topic}: message ${i}`);
        // Magic 0 has no timestamps (-1); magic 1 carries the producer's.
        if (api === '0.9') assert.equal(Number(timestamp), -1, `${topic}: timestamp of message ${i}`);
        else assert.ok(Number(timestamp) >= startMs - 1000 && Number(timestamp) <= Date.now(), `${topic}: timestamp ${timestamp}`);
      });
    }
  }
});
