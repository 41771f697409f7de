/**
 * librdkafka's idempotent producer against a disk that fills up and frees again (issue #16,
 * seed 1301). confluent-kafka-python (enable.idempotence=true, acks=all, up to five
 * requests in flight) writes numbered records to one partition without pause; ENOSPC is
 * injected into the broker's log writes (the storage FileSystem seam) for a while, then
 * healed.
 *
 * Kafka takes the directory offline at the first ENOSPC, so the requests librdkafka
 * pipelined behind the refused one also answer KAFKA_STORAGE_ERROR, and the producer
 * retries them in order under the same producer epoch. Tributary answered them
 * OUT_OF_ORDER_SEQUENCE_NUMBER, which librdkafka takes as "skipped sequence numbers": it
 * bumps its producer epoch and resends every unacknowledged record of every partition
 * under new sequences, and a record appended but not yet acknowledged elsewhere (a leader
 * that moved) was stored twice. The check: every batch in the log carries the producer's
 * first epoch (no bump), every acknowledged record is there once, and the producer saw no
 * error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createLogger, startBroker } from '@tributary/broker';
import { ErrorCode, decodeBatch, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { FaultyFileSystem } from '../../packages/storage/test/faulty-file-system.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { stopChild } from '../process-kit.js';
import { DEBIAN_PYTHON, requirePythonModule, tempDir, waitFor } from './kit.js';

const TOPIC = 'idem-full';
/** Acknowledgements before the disk fills, and after it is freed, before the producer stops. */
const ACKS_BEFORE_FULL = 40;
const ACKS_AFTER_HEAL = 40;
/** How long the disk stays full: several of librdkafka's 100 ms retry backoffs. */
const FULL_FOR_MS = 1000;

const PRODUCER = `
import sys, threading, time
from confluent_kafka import Producer
bootstrap, topic = sys.argv[1], sys.argv[2]
stop = threading.Event()
def watch_stdin():
    sys.stdin.read()
    stop.set()
threading.Thread(target=watch_stdin, daemon=True).start()
def on_error(err):
    sys.stdout.write("F %s\\n" % str(err).replace("\\n", " ")); sys.stdout.flush()
def on_delivery(err, msg):
    if err is not None:
        sys.stdout.write("E %s %s\\n" % (msg.value().decode(), str(err).replace("\\n", " ")))
    else:
        sys.stdout.write("A %s %s\\n" % (-1 if msg.offset() is None else msg.offset(), msg.value().decode()))
    sys.stdout.flush()
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 2,
              "message.timeout.ms": 60000, "retry.backoff.ms": 100, "error_cb": on_error})
i = 0
while not stop.is_set():
    p.produce(topic, value="r-%d" % i, partition=0, on_delivery=on_delivery)
    i += 1
    p.poll(0)
    time.sleep(0.003)
left = p.flush(60)
sys.stdout.write("D %d\\n" % left); sys.stdout.flush()
`;

test('librdkafka idempotent producer through a full disk: no epoch bump, every record once', async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = tempDir(t, 'tributary-idem-full-');
  const faults = new FaultyFileSystem();
  const logger = createLogger({ level: 'error', format: 'logfmt', sink: () => {} });
  const broker = await startBroker({ dataDir, host: '127.0.0.1', port: 0, config: { 'offsets.topic.num.partitions': 1 }, logger, fileSystem: faults.fs });
  t.after(() => broker.close());
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  const created = await client.request('CreateTopics', 7, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);

  const child = spawn(DEBIAN_PYTHON, ['-c', PRODUCER, `127.0.0.1:${broker.port}`, TOPIC], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => stopChild(child));
  const acked: string[] = [];
  const failures: string[] = [];
  let done = false;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('A ')) acked.push(line.split(' ')[2]!);
      else if (line.startsWith('D ')) done = true;
      else if (line.length > 0) failures.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await waitFor('acknowledgements before the disk fills', 30_000, () => acked.length >= ACKS_BEFORE_FULL || undefined, () => stderr);
  faults.fail({ op: 'write', code: 'ENOSPC', match: (f) => f.endsWith('.log') });
  await new Promise((r) => setTimeout(r, FULL_FOR_MS));
  const ackedWhileFull = acked.length;
  faults.heal();
  await waitFor('acknowledgements after space was freed', 60_000, () => acked.length >= ackedWhileFull + ACKS_AFTER_HEAL || undefined, () => failures.join('\n') + stderr);
  child.stdin.end();
  assert.equal(await exited, 0, stderr);
  assert.ok(done, 'the producer flushed');
  assert.deepEqual(failures, [], 'no failed delivery and no fatal error');

  // Every batch in the log, with its producer epoch.
  const fetched = await client.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const records = fetched.responses[0]!.partitions[0]!.records ?? Buffer.alloc(0);
  const starts: number[] = [];
  forEachBatch(records, (at) => starts.push(at));
  const epochs = new Set<number>();
  const values: string[] = [];
  for (const at of starts) {
    epochs.add(readBatchHeader(records, at).producerEpoch);
    for (const rec of (await decodeBatch(records, at)).records) values.push(rec.value!.toString());
  }
  assert.ok(faults.failures.length > 0, 'the disk was full for some appends');
  assert.deepEqual([...epochs], [0], 'one producer epoch: librdkafka never bumped it (no OUT_OF_ORDER_SEQUENCE_NUMBER)');
  assert.equal(new Set(values).size, values.length, 'no record twice');
  for (const v of acked) assert.ok(values.includes(v), `acknowledged ${v} is in the log`);
  assert.deepEqual(values, values.slice().sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))), 'in the order produced');
});
