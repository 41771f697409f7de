/**
 * Client quotas with real clients (KafkaJS 2.2.4, and librdkafka through
 * confluent-kafka-python for the produce case). Quotas are set with AlterClientQuotas
 * from a raw client (KafkaJS, kafka-python 2.0 and confluent-kafka 1.7 have no quota admin
 * API). Must hold: a client over its byte-rate quota is held to within 10% of it, measured
 * over 8 s after its first burst, while another client on the same broker gets the rate it
 * asks for (produce) or reads far faster than the quota (fetch).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { ErrorCode } from '@tributary/protocol';
import { requirePythonModule, runPython, startTestBroker } from './kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

const QUOTA_BYTES_PER_S = 512 * 1024;
/** After the first burst (10 s of quota at once, as Kafka allows) the rate is measured over this span. */
const WARMUP_MS = 5000;
const MEASURE_MS = 8000;
const VALUE_BYTES = 16 * 1024;

async function setQuota(port: number, clientId: string, key: string, value: number): Promise<void> {
  const raw = await RawClient.open(port);
  try {
    const res = await raw.request('AlterClientQuotas', 1, {
      entries: [{ entity: [{ entityType: 'client-id', entityName: clientId }], ops: [{ key, value, remove: false }] }],
      validateOnly: false,
    });
    assert.equal(res.entries[0]!.errorCode, ErrorCode.NONE, res.entries[0]!.errorMessage ?? '');
  } finally {
    raw.close();
  }
}

/** Bytes seen in [fromMs, toMs) of (time, bytes) events. */
function bytesBetween(events: [number, number][], fromMs: number, toMs: number): number {
  let total = 0;
  for (const [t, n] of events) if (t >= fromMs && t < toMs) total += n;
  return total;
}

test('KafkaJS consumer over consumer_byte_rate is held within 10% of it; another consumer is unaffected', { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'loader', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'quota-fetch', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  // Enough for the first burst, the measured span and a margin: 24 MiB.
  const producer = kafka.producer();
  await producer.connect();
  const value = Buffer.alloc(VALUE_BYTES, 2);
  const totalBytes = 24 << 20;
  for (let sent = 0; sent < totalBytes; sent += 32 * VALUE_BYTES) {
    await producer.send({ topic: 'quota-fetch', acks: 1, messages: Array.from({ length: 32 }, () => ({ value })) });
  }
  await producer.disconnect();
  await setQuota(broker.port, 'capped-consumer', 'consumer_byte_rate', QUOTA_BYTES_PER_S);

  const consume = async (clientId: string, events: [number, number][], stopAfterBytes: number) => {
    // 128 KiB per fetch: with 1 MiB responses (2 s of quota each) an 8 s span holds 3 or 4
    // of them and the measured rate is quantised by 12%.
    const consumer = new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: `group-${clientId}`, maxBytesPerPartition: 128 << 10 });
    await consumer.connect();
    t.after(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'quota-fetch', fromBeginning: true });
    let total = 0;
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          let bytes = 0;
          for (const m of batch.messages) bytes += m.value?.length ?? 0;
          events.push([Date.now(), bytes]);
          total += bytes;
          if (total >= stopAfterBytes) resolve();
        },
      });
    });
    await consumer.stop();
  };
  const cappedEvents: [number, number][] = [];
  const freeEvents: [number, number][] = [];
  const measuredBytes = 10 * QUOTA_BYTES_PER_S + ((WARMUP_MS + MEASURE_MS) / 1000) * QUOTA_BYTES_PER_S;
  const cappedDone = consume('capped-consumer', cappedEvents, measuredBytes);
  const freeStartMs = Date.now();
  await consume('free-consumer', freeEvents, totalBytes);
  const freeRate = totalBytes / ((Date.now() - freeStartMs) / 1000);
  await cappedDone;

  const startMs = cappedEvents[0]![0];
  const from = startMs + WARMUP_MS;
  const to = from + MEASURE_MS;
  const cappedRate = bytesBetween(cappedEvents, from, to) / (MEASURE_MS / 1000);
  t.diagnostic(`capped consumer ${(cappedRate / 1024).toFixed(0)} KiB/s (quota ${QUOTA_BYTES_PER_S / 1024}); free consumer read ${totalBytes >> 20} MiB at ${(freeRate / 1024).toFixed(0)} KiB/s`);
  assert.ok(Math.abs(cappedRate / QUOTA_BYTES_PER_S - 1) <= 0.1, `capped consumer at ${(cappedRate / QUOTA_BYTES_PER_S).toFixed(3)} x its quota`);
  // Unaffected: it read everything at well over the capped client's quota.
  assert.ok(freeRate >= 4 * QUOTA_BYTES_PER_S, `free consumer read at only ${(freeRate / 1024).toFixed(0)} KiB/s`);
});

/** confluent-kafka-python (librdkafka 2.0.2): produces for `seconds`, prints "ms bytes" per delivered message. */
const RDKAFKA_PRODUCE = `
import sys, time
from confluent_kafka import Producer
bootstrap, client_id, topic, seconds, size = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
# Small batches: a 1 MB batch is 2 s of a 512 KiB/s quota and would quantise the measured rate.
p = Producer({'bootstrap.servers': bootstrap, 'client.id': client_id, 'acks': 1, 'linger.ms': 5, 'batch.size': 65536})
acks = []
def delivered(err, msg):
    if err is None:
        acks.append((int(time.time() * 1000), len(msg.value())))
value = b'x' * size
end = time.time() + seconds
while time.time() < end:
    try:
        p.produce(topic, value, partition=0, on_delivery=delivered)
    except BufferError:
        p.poll(0.01)
    p.poll(0)
# What is still queued when the time is up is the backlog the quota holds back: it would take
# seconds to drain and lands after the measured span, so it is dropped, not flushed.
p.purge()
p.flush(10)
for t, n in acks:
    print(t, n)
`;

/**
 * The two producer tests run side by side (one broker each, ~0.5 MiB/s per capped producer,
 * the librdkafka one in its own process), so they take the time of one measurement rather
 * than two. The consumer test runs alone, first: its capped consumer measured 0.875 x its
 * quota (448 of 512 KiB/s, one second's quota short over the 8 s window) once beside them and
 * once alone at a load average of 18, and 1.000 alone on a quieter machine.
 */
describe('producer quotas', { concurrency: true }, () => {
  test('KafkaJS producer over producer_byte_rate is held within 10% of it; another producer is unaffected', { timeout: 120_000 }, async (t) => {
    const broker = await startTestBroker(t);
    await setQuota(broker.port, 'capped-producer', 'producer_byte_rate', QUOTA_BYTES_PER_S);
    const capped = new Kafka({ clientId: 'capped-producer', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const free = new Kafka({ clientId: 'free-producer', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = free.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quota-produce', numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const cappedProducer = capped.producer();
    const freeProducer = free.producer();
    await cappedProducer.connect();
    await freeProducer.connect();
    t.after(async () => {
      await cappedProducer.disconnect();
      await freeProducer.disconnect();
    });

    const value = Buffer.alloc(VALUE_BYTES, 1);
    const startMs = Date.now();
    const endMs = startMs + WARMUP_MS + MEASURE_MS;
    const cappedAcks: [number, number][] = [];
    const freeAcks: [number, number][] = [];
    // The capped client sends as fast as it is allowed: 4 records per request, one at a time.
    const cappedLoop = (async () => {
      while (Date.now() < endMs) {
        await cappedProducer.send({ topic: 'quota-produce', acks: 1, messages: [0, 1, 2, 3].map(() => ({ partition: 0, value })) });
        cappedAcks.push([Date.now(), 4 * VALUE_BYTES]);
      }
    })();
    // The free client offers a steady 2 x the capped quota: 8 records every 125 ms.
    const FREE_RECORDS_PER_TICK = 8;
    const TICK_MS = 125;
    const offeredBytesPerS = (FREE_RECORDS_PER_TICK * VALUE_BYTES * 1000) / TICK_MS;
    const freeLoop = (async () => {
      for (let tick = 0; startMs + tick * TICK_MS < endMs; tick++) {
        const dueMs = startMs + tick * TICK_MS;
        if (dueMs > Date.now()) await new Promise((r) => setTimeout(r, dueMs - Date.now()));
        await freeProducer.send({ topic: 'quota-produce', acks: 1, messages: Array.from({ length: FREE_RECORDS_PER_TICK }, () => ({ partition: 1, value })) });
        freeAcks.push([Date.now(), FREE_RECORDS_PER_TICK * VALUE_BYTES]);
      }
    })();
    await Promise.all([cappedLoop, freeLoop]);

    const from = startMs + WARMUP_MS;
    const cappedRate = bytesBetween(cappedAcks, from, endMs) / (MEASURE_MS / 1000);
    const freeRate = bytesBetween(freeAcks, from, endMs) / (MEASURE_MS / 1000);
    t.diagnostic(`capped producer ${(cappedRate / 1024).toFixed(0)} KiB/s (quota ${QUOTA_BYTES_PER_S / 1024}); free producer ${(freeRate / 1024).toFixed(0)} KiB/s of ${(offeredBytesPerS / 1024).toFixed(0)} offered`);
    assert.ok(Math.abs(cappedRate / QUOTA_BYTES_PER_S - 1) <= 0.1, `capped producer at ${(cappedRate / QUOTA_BYTES_PER_S).toFixed(3)} x its quota`);
    assert.ok(freeRate >= 0.9 * offeredBytesPerS, `free producer got ${(freeRate / offeredBytesPerS).toFixed(3)} of the rate it offered`);
  });

  test('librdkafka producer (confluent-kafka-python) over producer_byte_rate is held within 10% of it', { timeout: 120_000 }, async (t) => {
    requirePythonModule('confluent_kafka');
    const broker = await startTestBroker(t);
    await setQuota(broker.port, 'capped-rdkafka', 'producer_byte_rate', QUOTA_BYTES_PER_S);
    const kafka = new Kafka({ clientId: 'setup', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quota-rdkafka', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const startMs = Date.now();
    const r = await runPython(RDKAFKA_PRODUCE, [broker.bootstrap, 'capped-rdkafka', 'quota-rdkafka', String((WARMUP_MS + MEASURE_MS) / 1000), String(VALUE_BYTES)], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    const acks = r.stdout.toString().trim().split('\n').map((line) => line.split(' ').map(Number) as [number, number]);
    const from = startMs + WARMUP_MS;
    const rate = bytesBetween(acks, from, from + MEASURE_MS) / (MEASURE_MS / 1000);
    t.diagnostic(`librdkafka capped producer ${(rate / 1024).toFixed(0)} KiB/s (quota ${QUOTA_BYTES_PER_S / 1024}), ${acks.length} records acknowledged`);
    assert.ok(Math.abs(rate / QUOTA_BYTES_PER_S - 1) <= 0.1, `librdkafka producer at ${(rate / QUOTA_BYTES_PER_S).toFixed(3)} x its quota`);
  });
});
