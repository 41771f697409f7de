/**
 * Idempotent producers across broker restarts (issue 17): confluent-kafka-python
 * (librdkafka, enable.idempotence=true) and KafkaJS (idempotent: true) write numbered
 * records without pause while the broker, a child process, is stopped and started 4 times
 * (10 in long mode):
 * SIGKILL and clean SIGTERM alternately, and every other stop lands right after a segment
 * roll (segment.bytes 16 KiB; the test watches the partition directories for a new
 * segment and stops the broker at once), when the producer state must come from the
 * roll's snapshot plus a replay of the new segment.
 *
 * Beside them, a raw producer makes the check deterministic: before each stop it writes a
 * few batches to partition 0 (acknowledged), and after each start it resends the last one
 * with the same producer id, epoch and sequence: the broker must answer it with the
 * original offset and not append it again (only reloaded producer state can tell), and the
 * next sequence must then be accepted (a wrongly reloaded state answers
 * OUT_OF_ORDER_SEQUENCE_NUMBER).
 *
 * Clients resend whatever was in flight when the connection dropped. Afterwards every
 * partition is read back: no record appears twice (the broker recognised every resend as a
 * duplicate from the producer state it reloaded), every acknowledged record is there,
 * and neither client saw OUT_OF_ORDER_SEQUENCE_NUMBER or a fatal idempotence error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { encodeBatchSync } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { readPartition } from './checker.js';
import { DEBIAN_PYTHON, freePort, requirePythonModule, spawnBroker, tempDir, waitFor, type BrokerProcess } from './kit.js';

/**
 * Stops alternate SIGKILL, SIGKILL, SIGTERM, SIGTERM, odd ones right after a segment roll:
 * 4 stops make every pairing of signal and timing once (the default run); long mode
 * (TRIBUTARY_LONG=1) repeats them to 10 stops, as the suite once did by default.
 */
const RESTARTS = process.env['TRIBUTARY_LONG'] === '1' ? 10 : 4;
const TOPIC = 'idem';
const PARTITIONS = 3;
const SEGMENT_BYTES = 16 * 1024;

const PRODUCER = `
import sys, os, time
from confluent_kafka import Producer
bootstrap, topic, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
fatal = []
errors = []
acked = []
def on_error(err):
    if err.fatal():
        fatal.append(str(err))
def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        acked.append(msg.value().decode())
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
              "message.timeout.ms": 120000, "error_cb": on_error, "reconnect.backoff.ms": 50,
              "reconnect.backoff.max.ms": 200, "topic.metadata.refresh.interval.ms": 1000})
n = 0
while not os.path.exists(stop_file) and not fatal:
    try:
        p.produce(topic, value=("py-%d-" % n) + "x" * 200, partition=n % 3, on_delivery=on_delivery)
        n += 1
    except BufferError:
        pass
    p.poll(0.002)
left = p.flush(120)
print("SENT %d" % n)
print("UNDELIVERED %d" % left)
for e in fatal: print("FATAL " + e)
for e in errors[:20]: print("ERROR " + e)
for v in acked: print("ACK " + v)
`;

test(`idempotent producers see no duplicates and no false OUT_OF_ORDER across ${RESTARTS} broker restarts`, { timeout: 300_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = tempDir(t, 'tributary-idem-');
  const port = await freePort();
  const start = () => spawnBroker(t, { dataDir, port });
  let broker: BrokerProcess = await start();
  const admin = await RawClient.open(port);
  const created = await admin.request('CreateTopics', 4, {
    topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] }],
    timeoutMs: 5000, validateOnly: false,
  });
  admin.close();
  assert.equal(created.topics[0]!.errorCode, 0);

  // confluent-kafka-python, in its own process for the whole run.
  const stopFile = join(dataDir, '..', `stop-${port}`);
  t.after(() => writeFileSync(stopFile, ''));
  const py = spawn(DEBIAN_PYTHON, ['-c', PRODUCER, `127.0.0.1:${port}`, TOPIC, stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pyOut = '';
  let pyErr = '';
  py.stdout.on('data', (d: Buffer) => (pyOut += d.toString()));
  py.stderr.on('data', (d: Buffer) => (pyErr += d.toString()));
  const pyDone = new Promise<number | null>((res) => py.once('exit', (code) => res(code)));
  t.after(() => py.kill('SIGKILL'));

  // KafkaJS, in this process.
  const kafka = new Kafka({ clientId: 'idem', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 1000, initialRetryTime: 50, maxRetryTime: 500 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const jsAcked = new Set<string>();
  const jsErrors: string[] = [];
  let jsStop = false;
  const jsLoop = (async () => {
    let n = 0;
    while (!jsStop) {
      const values = Array.from({ length: 5 }, (_, i) => `js-${n + i}-${'y'.repeat(150)}`);
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value, i) => ({ value, partition: (n + i) % PARTITIONS })) });
        for (const v of values) jsAcked.add(v);
      } catch (err) {
        const e = err as Error & { type?: string };
        jsErrors.push(`${e.name}: ${e.type ?? ''} ${e.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      n += 5;
    }
  })();

  const segmentsOf = () => {
    let n = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const dir = join(dataDir, `${TOPIC}-${p}`);
      if (existsSync(dir)) n += readdirSync(dir).filter((f) => f.endsWith('.log')).length;
    }
    return n;
  };
  // The raw producer (its own connection per broker life).
  let raw = await RawClient.open(port);
  const init = await raw.request('InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  let rawSeq = 0;
  const rawValues = new Set<string>();
  const rawBatch = (seq: number) => encodeBatchSync({
    producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: seq,
    records: [0, 1].map((i) => ({ value: Buffer.from(`raw-${seq + i}`) })),
  });
  const rawProduce = async (seq: number) => {
    const r = await raw.request('Produce', 9, {
      transactionalId: null, acks: -1, timeoutMs: 5000,
      topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: rawBatch(seq) }] }],
    }, { timeoutMs: 15_000 });
    return r.responses[0]!.partitionResponses[0]!;
  };
  let lastRaw = { seq: -1, offset: -1 };
  const rawWrite = async (batches: number) => {
    for (let i = 0; i < batches; i++) {
      const r = await rawProduce(rawSeq);
      assert.equal(r.errorCode, 0, `raw produce at sequence ${rawSeq}: ${r.errorCode} ${r.errorMessage}`);
      lastRaw = { seq: rawSeq, offset: r.baseOffset };
      rawValues.add(`raw-${rawSeq}`).add(`raw-${rawSeq + 1}`);
      rawSeq += 2;
    }
  };
  await rawWrite(3);

  for (let round = 0; round < RESTARTS; round++) {
    await rawWrite(2);
    if (round % 2 === 1) {
      // Stop right after a roll: poll the directories for a new segment.
      const before = segmentsOf();
      await waitFor('a segment roll', 30_000, () => (segmentsOf() > before ? true : undefined));
    } else {
      await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 800)));
    }
    await broker.kill(round % 4 < 2 ? 'SIGKILL' : 'SIGTERM');
    broker = await start();
    raw.close();
    raw = await RawClient.open(port);
    const again = await rawProduce(lastRaw.seq);
    assert.equal(again.errorCode, 0, `round ${round}: the resent batch is a duplicate, not an error (${again.errorMessage})`);
    assert.equal(again.baseOffset, lastRaw.offset, `round ${round}: the resent batch is answered with its original offset`);
  }
  raw.close();
  // Let both producers get through a last stretch on a running broker, then stop them.
  await new Promise((r) => setTimeout(r, 1500));
  jsStop = true;
  await jsLoop;
  await producer.disconnect();
  writeFileSync(stopFile, '');
  const pyCode = await pyDone;
  assert.equal(pyCode, 0, pyErr.slice(-4000));
  const lines = pyOut.split('\n');
  const pyAcked = new Set(lines.filter((l) => l.startsWith('ACK ')).map((l) => l.slice(4)));
  const fatal = lines.filter((l) => l.startsWith('FATAL '));
  const pyErrors = lines.filter((l) => l.startsWith('ERROR '));
  t.diagnostic(`python: ${lines.find((l) => l.startsWith('SENT'))}, ${pyAcked.size} acked; kafkajs: ${jsAcked.size} acked, ${jsErrors.length} failed sends`);
  assert.deepEqual(fatal, [], 'librdkafka raised no fatal idempotence error');
  assert.deepEqual(pyErrors.filter((e) => /OUT_OF_ORDER|OutOfOrder|UNKNOWN_PRODUCER/i.test(e)), []);
  assert.deepEqual(jsErrors.filter((e) => /OUT_OF_ORDER|OutOfOrder|sequence/i.test(e)), []);
  assert.ok(pyAcked.size > 100 && jsAcked.size > 50, 'both producers made progress');

  const reader = await RawClient.open(port);
  t.after(() => reader.close());
  const seen = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) {
    for (const r of await readPartition(reader, TOPIC, p)) seen.set(r.value!, (seen.get(r.value!) ?? 0) + 1);
  }
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([v]) => v.slice(0, 12));
  assert.deepEqual(duplicated, [], 'no record was written twice');
  const rawSeen = [...seen.keys()].filter((v) => v.startsWith('raw-'));
  assert.equal(rawSeen.length, rawValues.size, 'the raw producer\'s resends were not appended');
  const missing = [...pyAcked, ...jsAcked, ...rawValues].filter((v) => !seen.has(v)).map((v) => v.slice(0, 12));
  assert.deepEqual(missing, [], 'every acknowledged record is there');
  await broker.kill('SIGTERM');
});
