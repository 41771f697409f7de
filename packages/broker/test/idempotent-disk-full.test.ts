// Issue #16, seed 1301: an idempotent producer's batches pipelined behind one that a full
// disk refused. Kafka takes the log directory offline at the first ENOSPC, so every later
// append to it answers KAFKA_STORAGE_ERROR; Tributary keeps the directory online and
// answered the pipelined batch OUT_OF_ORDER_SEQUENCE_NUMBER (its sequence check ran against
// a state without the refused batch). librdkafka treats that answer as "skipped sequence
// numbers": it bumps its producer epoch and resends every unacknowledged record, of every
// partition, under new sequences; a record another partition had appended but not yet
// acknowledged (its leader moved) was then appended a second time by the new leader.
// ENOSPC is injected through the storage FileSystem seam (deterministic, no tmpfs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, decodeBatch, encodeBatchSync, forEachBatch } from '@tributary/protocol';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { createLogger } from '../src/logger.js';
import { FaultyFileSystem } from '../../storage/test/faulty-file-system.js';
import { RawClient } from './helpers/raw-client.js';

const TOPIC = 'idem-full';
const PRODUCER_ID = 4242;

async function produce(client: RawClient, epoch: number, seq: number): Promise<{ errorCode: number; baseOffset: number }> {
  const records = encodeBatchSync({ producerId: PRODUCER_ID, producerEpoch: epoch, baseSequence: seq, records: [{ key: null, value: Buffer.from(`e${epoch}-s${seq}`) }] });
  const r = await client.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0]!.partitionResponses[0]!;
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

/**
 * A broker on a FaultyFileSystem with topic TOPIC (one partition) and a raw client, all
 * closed and the directory removed when the test ends. `logDirs` names several directories
 * under the temporary one (the broker halts when its last directory fails).
 */
async function brokerWithTopic(t: { after(fn: () => unknown): void }, prefix: string, logDirs?: string[]) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const faults = new FaultyFileSystem();
  const logger = createLogger({ level: 'warn', format: 'logfmt', sink: () => {} });
  let broker: RunningBroker | undefined;
  let client: RawClient | undefined;
  t.after(async () => {
    client?.close();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const dirs = logDirs?.map((d) => join(dir, d));
  broker = await startBroker({
    dataDir: dirs?.[0] ?? dir, port: 0, logger, fileSystem: faults.fs,
    config: { 'offsets.topic.num.partitions': 1, ...(dirs !== undefined ? { 'log.dirs': dirs.join(',') } : {}) },
  });
  client = await RawClient.open(broker.port);
  const created = await client.request('CreateTopics', 7, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  return { broker, client, faults };
}

async function values(client: RawClient): Promise<string[]> {
  const r = await client.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const records = r.responses[0]!.partitions[0]!.records ?? Buffer.alloc(0);
  const starts: number[] = [];
  forEachBatch(records, (at) => starts.push(at));
  const out: string[] = [];
  for (const at of starts) for (const rec of (await decodeBatch(records, at)).records) out.push(rec.value!.toString());
  return out;
}

test('a full disk: batches pipelined behind a refused one get KAFKA_STORAGE_ERROR, not OUT_OF_ORDER_SEQUENCE_NUMBER', async (t) => {
  const { client, faults } = await brokerWithTopic(t, 'trib-idem-full-');

  assert.deepEqual(await produce(client, 0, 0), { errorCode: ErrorCode.NONE, baseOffset: 0 });
  assert.deepEqual(await produce(client, 0, 1), { errorCode: ErrorCode.NONE, baseOffset: 1 });

  // The disk fills: sequences 2, 3 and 4 are in flight at once (librdkafka pipelines up to 5).
  faults.fail({ op: 'write', code: 'ENOSPC', match: (f) => f.endsWith('.log') });
  const inFlight = await Promise.all([produce(client, 0, 2), produce(client, 0, 3), produce(client, 0, 4)]);
  assert.deepEqual(inFlight.map((r) => r.errorCode), [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.KAFKA_STORAGE_ERROR],
    'the batches behind the refused one are storage errors too (retried in order), not sequence errors (an epoch bump)');

  // Space freed: the client retries in order, a resend is a duplicate, nothing is doubled.
  faults.heal();
  assert.deepEqual(await produce(client, 0, 2), { errorCode: ErrorCode.NONE, baseOffset: 2 });
  assert.deepEqual(await produce(client, 0, 3), { errorCode: ErrorCode.NONE, baseOffset: 3 });
  assert.deepEqual(await produce(client, 0, 3), { errorCode: ErrorCode.NONE, baseOffset: 3 }, 'a resent batch is answered with its offset');
  assert.deepEqual(await produce(client, 0, 4), { errorCode: ErrorCode.NONE, baseOffset: 4 });
  // With the disk writable again a real gap is Kafka's sequence error.
  assert.equal((await produce(client, 0, 9)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.deepEqual(await values(client), ['e0-s0', 'e0-s1', 'e0-s2', 'e0-s3', 'e0-s4']);
});

test('a failed log directory: an idempotent batch answers KAFKA_STORAGE_ERROR before any sequence check', async (t) => {
  // Two directories: the broker stops when its last one fails (Kafka's halt), this one must go on.
  const { broker, client, faults } = await brokerWithTopic(t, 'trib-idem-eio-', ['d0', 'd1']);
  assert.deepEqual(await produce(client, 0, 0), { errorCode: ErrorCode.NONE, baseOffset: 0 });

  // EIO takes the directory offline (Kafka's LogDirFailureChannel); Kafka's UnifiedLog.append
  // then refuses before it looks at the producer state, whatever the sequence.
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.includes(`${TOPIC}-0`) && f.endsWith('.log') });
  const inFlight = await Promise.all([produce(client, 0, 1), produce(client, 0, 2), produce(client, 1, 5)]);
  assert.equal(broker.services.logManager.getLog(TOPIC, 0)!.isOffline, true);
  assert.deepEqual(inFlight.map((r) => r.errorCode), [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.KAFKA_STORAGE_ERROR]);
});
