/**
 * The Python clients from Debian against a real broker: confluent-kafka-python 1.7
 * (librdkafka) and kafka-python 2.0 (pure Python). Each creates a topic with its own
 * admin client, produces RECORD_COUNT (10,000; 100,000 in long mode) keyed records with a header in every codec it supports,
 * and reads them back in a consumer group; the Node side checks the records are
 * identical, in order, at contiguous offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DEBIAN_PYTHON, REPO_ROOT, requirePythonModule, run, startTestBroker } from './kit.js';
import { assertRoundTrip, RECORD_COUNT, type ConsumedRecord } from './records.js';

const SCRIPTS = join(REPO_ROOT, 'test/compat/py');

function parseLines(text: string): ConsumedRecord[] {
  return text.split('\n').filter((l) => l !== '').map((line) => {
    const [key, value, offset, trace] = line.split('\t');
    return { key: key!, value: value!, offset: Number(offset), headers: { trace: trace ?? '' } };
  });
}

const CLIENTS = [
  { name: 'confluent-kafka-python', module: 'confluent_kafka', script: 'confluent_roundtrip.py', codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'], count: RECORD_COUNT },
  { name: 'kafka-python', module: 'kafka', script: 'kafka_python_roundtrip.py', codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'], count: RECORD_COUNT },
] as const;

for (const client of CLIENTS) {
  test(`${client.name} round-trips ${client.count} keyed records with headers in every codec`, { timeout: 600_000 }, async (t) => {
    requirePythonModule(client.module);
    const broker = await startTestBroker(t);
    for (const codec of client.codecs) {
      const topic = `${client.module}-${codec}`;
      const r = await run(DEBIAN_PYTHON, [join(SCRIPTS, client.script), broker.bootstrap, topic, codec, String(client.count)], { timeoutMs: 300_000 });
      assert.equal(r.code, 0, `${client.name} (${codec}) exited ${r.code}: ${r.stderr.slice(-3000)}`);
      assertRoundTrip(parseLines(r.stdout.toString('utf8')), { count: client.count });
    }
  });
}
