/**
 * Crash safety (issue 3): acknowledged acks=all writes survive kill -9 of the broker.
 *
 * A broker runs as a child process. Two kinds of producers write continuously, all with
 * acks=all and unique, self-describing records (see checker.ts):
 *  - four raw connections (the protocol package's codecs): each request carries 1-3
 *    partitions of a 6-partition topic, a batch of 1-8 records per partition, a random
 *    codec (none, gzip, snappy, lz4) and a random Produce version (3-11); the raw client
 *    never resends, so every record must appear at most once;
 *  - KafkaJS 2.2.4 (acks -1, idempotence off, its own retries) on a 3-partition topic;
 *    its retries may legitimately write an unacknowledged record twice.
 * Both topics roll segments every 128 KiB, so kills also land during rolls and recovery
 * walks several segments. After each kill, 1-200 bytes are appended to one partition's
 * active segment (a torn write: random bytes, or a batch cut short), which recovery must
 * truncate without losing anything acknowledged (were the bytes kept, later appends would
 * land behind them and reading the partition back would fail).
 *
 * Each round: (re)start the broker on the same port and data directory, verify (read
 * every partition back: every acknowledged record present, intact, at its acknowledged
 * offset; offsets contiguous; nothing read earlier has vanished; no raw record twice),
 * let the producers run for a random 0.2-1.5 s, SIGKILL. The producers never stop: they
 * reconnect on their own, so kills hit requests in flight. After the last kill the broker
 * restarts, the producers stop and a final verification covers every acknowledgement.
 *
 * Modes: the default (acks=all answered once the data is in the page cache, which a
 * process kill does not lose) and `log.flush.durable.acks=true` (answered after
 * fdatasync; a process kill cannot tell the difference, so this checks that the group
 * commit path acknowledges correctly and recovers the same way).
 *
 * Runs: 3 kills per mode (~20 s in all; each kill exercises the whole cycle of kill, torn
 * tail, recovery and check). `TRIBUTARY_LONG=1` runs 40 kills per mode with
 * delays up to 3 s (several minutes). `TRIBUTARY_SEED=<n>` replays the record fillers,
 * partition choices and kill delays of a printed seed (timing still differs run to run).
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type RecordMetadata } from 'kafkajs';
import { CompressionType, encodeBatchSync } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { WriteChecker, seededRandom, testSeed, type TestRecord } from './checker.js';
import { freePort, spawnBroker, tempDir, type BrokerProcess } from './kit.js';

const LONG = process.env['TRIBUTARY_LONG'] === '1';
const KILLS = LONG ? 40 : 3;
const MIN_RUN_MS = 200;
const MAX_RUN_MS = LONG ? 3000 : 1500;
const RAW_TOPIC = 'crash-raw';
const RAW_PARTITIONS = 6;
const RAW_CONNECTIONS = 4;
const KAFKAJS_TOPIC = 'crash-kafkajs';
const KAFKAJS_PARTITIONS = 3;
const SEGMENT_BYTES = 128 * 1024;
const CODECS = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4] as const;

interface Stats {
  requests: number;
  acked: number;
  failedRequests: number;
  errorCodes: Map<number, number>;
}

for (const mode of ['page-cache', 'durable'] as const) {
  test(`kill -9 loses no acknowledged acks=all write (${mode}, ${KILLS} kills)`, { timeout: LONG ? 1_800_000 : 120_000 }, async (t) => {
    const seed = testSeed();
    t.diagnostic(`seed ${seed} (TRIBUTARY_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const dataDir = tempDir(t, 'tributary-crash-');
    const port = await freePort();
    const overrides: Record<string, string> = mode === 'durable' ? { 'log.flush.durable.acks': 'true' } : {};
    const start = () => spawnBroker(t, { dataDir, port, overrides });
    let broker: BrokerProcess = await start();
    const stderrLines: string[] = [];
    const capture = (b: BrokerProcess) => b.child.stderr!.on('data', (d: Buffer) => stderrLines.push(...d.toString().split('\n').filter((l) => l !== '')));
    capture(broker);

    const admin = await RawClient.open(port);
    const created = await admin.request('CreateTopics', 4, {
      topics: [RAW_TOPIC, KAFKAJS_TOPIC].map((name) => ({
        name, numPartitions: name === RAW_TOPIC ? RAW_PARTITIONS : KAFKAJS_PARTITIONS, replicationFactor: 1, assignments: [],
        configs: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }],
      })),
      timeoutMs: 5000, validateOnly: false,
    });
    admin.close();
    for (const topic of created.topics) assert.equal(topic.errorCode, 0, `CreateTopics ${topic.name}: ${topic.errorMessage}`);

    const checker = new WriteChecker(random);
    for (let p = 0; p < RAW_PARTITIONS; p++) checker.track(RAW_TOPIC, p);
    for (let p = 0; p < KAFKAJS_PARTITIONS; p++) checker.track(KAFKAJS_TOPIC, p);
    let stopped = false;
    const rawStats: Stats = { requests: 0, acked: 0, failedRequests: 0, errorCodes: new Map() };
    const jsStats: Stats = { requests: 0, acked: 0, failedRequests: 0, errorCodes: new Map() };
    const protocolFailures: string[] = [];

    // --- raw producers: one request at a time per connection, reconnecting forever.
    const rawLoop = async (tag: string) => {
      let client: RawClient | null = null;
      while (!stopped) {
        if (client === null || client.closed) {
          client?.close();
          client = await RawClient.open(port).catch(() => null);
          if (client === null) { await sleep(20); continue; }
        }
        const chosen = pickDistinct(random, RAW_PARTITIONS, 1 + Math.floor(random() * 3));
        const batches = chosen.map((partition) => {
          const records: TestRecord[] = [];
          const n = 1 + Math.floor(random() * 8);
          for (let i = 0; i < n; i++) records.push(checker.newRecord(tag, RAW_TOPIC, partition));
          return { partition, records };
        });
        const compression = CODECS[Math.floor(random() * CODECS.length)]!;
        const version = 3 + Math.floor(random() * 9);
        let response;
        rawStats.requests++;
        try {
          response = await client.request('Produce', version, {
            transactionalId: null, acks: -1, timeoutMs: 10_000,
            topicData: [{
              name: RAW_TOPIC,
              partitionData: batches.map((b) => ({
                index: b.partition,
                records: encodeBatchSync({
                  compression,
                  records: b.records.map((r) => ({ key: Buffer.from(r.key), value: Buffer.from(r.value), headers: r.headers.map((h) => ({ key: h.key, value: Buffer.from(h.value) })) })),
                }),
              })),
            }],
          }, { timeoutMs: 10_000 });
        } catch (err) {
          // The broker died under the request: it may or may not have been written.
          const message = (err as Error).message;
          if (message !== 'connection closed' && !message.startsWith('timed out')) protocolFailures.push(`${tag}: ${message}`);
          rawStats.failedRequests++;
          client.close();
          client = null;
          continue;
        }
        for (const part of response.responses[0]!.partitionResponses) {
          const batch = batches.find((b) => b.partition === part.index)!;
          if (part.errorCode === 0) {
            checker.acknowledge(RAW_TOPIC, part.index, part.baseOffset, batch.records);
            rawStats.acked += batch.records.length;
          } else {
            rawStats.errorCodes.set(part.errorCode, (rawStats.errorCodes.get(part.errorCode) ?? 0) + 1);
          }
        }
      }
      client?.close();
    };

    // --- KafkaJS: acks -1, no idempotence, its own retries and reconnects.
    const kafka = new Kafka({
      clientId: 'crash-kafkajs', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING,
      connectionTimeout: 1000, requestTimeout: 10_000, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: false });
    await producer.connect();
    t.after(() => producer.disconnect().catch(() => {}));
    const kafkajsLoop = async () => {
      while (!stopped) {
        const records = Array.from({ length: 1 + Math.floor(random() * 20) }, () => {
          const partition = Math.floor(random() * KAFKAJS_PARTITIONS);
          return { partition, record: checker.newRecord('js', KAFKAJS_TOPIC, partition, Infinity) };
        });
        jsStats.requests++;
        let metadata: RecordMetadata[];
        try {
          metadata = await producer.send({
            topic: KAFKAJS_TOPIC, acks: -1, timeout: 10_000,
            messages: records.map(({ partition, record }) => ({
              partition, key: record.key, value: record.value,
              headers: Object.fromEntries(record.headers.map((h) => [h.key, h.value])),
            })),
          });
        } catch {
          jsStats.failedRequests++;
          await sleep(50);
          continue;
        }
        for (const m of metadata) {
          const mine = records.filter((r) => r.partition === m.partition).map((r) => r.record);
          if (m.errorCode !== 0) continue;
          checker.acknowledge(KAFKAJS_TOPIC, m.partition, Number(m.baseOffset), mine);
          jsStats.acked += mine.length;
        }
      }
    };

    const loops = [...Array.from({ length: RAW_CONNECTIONS }, (_, i) => rawLoop(`raw${i}`)), kafkajsLoop()];
    const rounds: string[] = [];
    try {
      for (let kill = 0; kill <= KILLS; kill++) {
        const reader = await RawClient.open(port);
        const report = await checker.verify(reader, `after restart ${kill}`).finally(() => reader.close());
        const ackedBefore = checker.acknowledgedCount;
        if (kill === KILLS) {
          rounds.push(`restart ${kill}: ${report.recordsRead} records read, ${report.acknowledgedChecked} acknowledged checked, ${report.unacknowledgedPresent} unacknowledged present, ${report.duplicates} duplicates`);
          break;
        }
        const runMs = MIN_RUN_MS + Math.floor(random() * (MAX_RUN_MS - MIN_RUN_MS));
        await sleep(runMs);
        broker.child.kill('SIGKILL');
        await broker.exited;
        const torn = appendTornTail(dataDir, `${RAW_TOPIC}-${Math.floor(random() * RAW_PARTITIONS)}`, random);
        rounds.push(`restart ${kill}: ${report.recordsRead} records read, ${report.acknowledgedChecked} acknowledged checked, ${report.unacknowledgedPresent} unacknowledged present, ${report.duplicates} duplicates; killed after ${runMs} ms with ${checker.acknowledgedCount - ackedBefore} new acks; ${torn}`);
        assert.ok(checker.acknowledgedCount > ackedBefore, `round ${kill}: no write was acknowledged in ${runMs} ms: the producers are not making progress`);
        const restartAt = performance.now();
        broker = await start();
        capture(broker);
        rounds.push(`  restarted in ${Math.round(performance.now() - restartAt)} ms`);
      }
    } finally {
      stopped = true;
      await Promise.all(loops);
    }
    // Every acknowledgement is in now: the final check covers all of them.
    const reader = await RawClient.open(port);
    const final = await checker.verify(reader, 'final').finally(() => reader.close());
    await broker.kill('SIGTERM');
    for (const line of rounds) t.diagnostic(line);
    t.diagnostic(`final: ${final.recordsRead} records in ${final.partitions} partitions, ${final.acknowledgedChecked} acknowledged all present, ${final.unacknowledgedPresent} unacknowledged present, ${final.duplicates} duplicates (KafkaJS retries)`);
    t.diagnostic(`raw: ${rawStats.requests} requests, ${rawStats.acked} records acknowledged, ${rawStats.failedRequests} requests cut by kills, partition errors ${JSON.stringify([...rawStats.errorCodes])}`);
    t.diagnostic(`kafkajs: ${jsStats.requests} sends, ${jsStats.acked} records acknowledged, ${jsStats.failedRequests} sends failed`);
    assert.deepEqual(protocolFailures, [], 'raw requests failed other than by a dropped connection');
    assert.equal(final.acknowledgedChecked, checker.acknowledgedIds, 'the final check covered every acknowledged record');
    assert.ok(rawStats.acked > 0 && jsStats.acked > 0, 'both clients had writes acknowledged');
    const errors = stderrLines.filter((l) => l.includes('level=error'));
    assert.deepEqual(errors, [], 'the broker logged errors');
  });
}

/**
 * Simulates a write torn by the crash: appends 1-200 bytes to the partition's active
 * segment, either random bytes or the start of a copy of the segment's first batch (a
 * plausible header whose body is cut short). A kill -9 alone never tears a write (the
 * kernel finishes the write call), so without this recovery's truncation would go
 * untested here. The bytes hold no acknowledged record, so nothing may be lost.
 */
function appendTornTail(dataDir: string, partitionDir: string, random: () => number): string {
  const dir = join(dataDir, partitionDir);
  const segments = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  const active = join(dir, segments[segments.length - 1]!);
  const n = 1 + Math.floor(random() * 200);
  let tail = Buffer.alloc(n);
  const first = segments.length > 0 ? readFileSync(join(dir, segments[0]!)) : Buffer.alloc(0);
  if (random() < 0.5 && first.length > n) {
    tail = Buffer.from(first.subarray(0, n));
  } else {
    for (let i = 0; i < n; i++) tail[i] = Math.floor(random() * 256);
  }
  appendFileSync(active, tail);
  return `tore ${partitionDir} with ${n} bytes`;
}

function pickDistinct(random: () => number, n: number, count: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
