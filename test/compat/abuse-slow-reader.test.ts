/**
 * Abuse (issue 14): clients that pipeline huge Fetches and never read their sockets.
 *
 * One broker runs as a child process (its RSS is read from /proc). A topic is filled with
 * ATTACK_TOPIC_BYTES of record data; then ATTACKERS connections each write
 * FETCHES_PER_ATTACKER pipelined Fetch requests (max_bytes and partition_max_bytes 50 MB,
 * from offset 0) and never read a byte. Kafka mutes a connection while a request is in
 * flight and sends fetch data from the file, so such clients cost it nothing; before
 * issue 14 they pinned ~1.7 GB each here. Meanwhile a KafkaJS producer and a KafkaJS
 * consumer (in a group) work on their own topic.
 *
 * It proves:
 *  - the broker's RSS stays under RSS_LIMIT_BYTES throughout the attack;
 *  - the KafkaJS client's produce acknowledgements and produce-to-consume latencies have
 *    a p99 under P99_LIMIT_MS, and it receives every record it produced;
 *  - after the attackers close, the broker's RSS comes back within 20% of its figure
 *    before the attack.
 *
 * The default run attacks for ATTACK_MS (a few seconds); TRIBUTARY_LONG=1 attacks for a
 * minute.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { ApiKey, Writer, encodeBatchSync, encodeRequestHeader, requestHeaderVersion, apiSpecByKey } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { freePort, spawnBroker, tempDir } from './kit.js';

const LONG = process.env['TRIBUTARY_LONG'] === '1';
const ATTACK_MS = LONG ? 60_000 : 5_000;
const ATTACKERS = 3;
const FETCHES_PER_ATTACKER = 200;
const FETCH_MAX_BYTES = 50 * 1024 * 1024;
/** More than one attacker Fetch can take, so each response is as large as the broker allows. */
const ATTACK_TOPIC_BYTES = 64 * 1024 * 1024;
const RSS_LIMIT_BYTES = 512 * 1024 * 1024;
const P99_LIMIT_MS = 100;
/** RSS after the attack must come back within this factor of the idle figure... */
const RSS_RETURN_FACTOR = 1.2;
/** ...within this long after the attackers closed. */
const RSS_RETURN_MS = 15_000;
/** The good producer sends one record, waits for its ack, then waits this long. */
const PRODUCE_INTERVAL_MS = 5;
const FETCH_VERSION = 12;
const PRODUCE_VERSION = 9;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

function fetchFrame(correlationId: number, topic: string): Buffer {
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeRequestHeader(w, requestHeaderVersion(ApiKey.Fetch, FETCH_VERSION), { requestApiKey: ApiKey.Fetch, requestApiVersion: FETCH_VERSION, correlationId, clientId: 'slow-reader' });
  apiSpecByKey(ApiKey.Fetch)!.encodeRequest(w, FETCH_VERSION, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: FETCH_MAX_BYTES, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: FETCH_MAX_BYTES, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  w.endSizePrefix(slot);
  return w.finish();
}

/** Fills `topic` partition 0 with `bytes` of record data in batches of just under 1 MB. */
async function fill(port: number, topic: string, bytes: number): Promise<void> {
  const client = await RawClient.open(port);
  try {
    const created = await client.request('CreateTopics', 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(created.topics[0]!.errorCode, 0);
    const value = Buffer.alloc(100 * 1024, 'x');
    const batch = encodeBatchSync({ records: Array.from({ length: 9 }, () => ({ value })) });
    for (let written = 0; written < bytes; written += batch.length) {
      const r = await client.request('Produce', PRODUCE_VERSION, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, 0);
    }
  } finally {
    client.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

test('slow readers pipelining 50 MB Fetches: bounded RSS, other clients served, memory returned', { timeout: ATTACK_MS + 120_000 }, async (t) => {
  const port = await freePort();
  const broker = await spawnBroker(t, { dataDir: tempDir(t), port, overrides: { 'group.initial.rebalance.delay.ms': 0 } });
  const pid = broker.child.pid!;
  await fill(port, 'attack', ATTACK_TOPIC_BYTES);

  // The well-behaved client: a group consumer and a producer on their own topic.
  const kafka = new Kafka({ clientId: 'abuse-good', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'good', numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const consumer = kafka.consumer({ groupId: 'abuse-good', maxWaitTimeInMs: 100 });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'good', fromBeginning: true });
  const sentAt = new Map<string, number>();
  const e2eMs: number[] = [];
  let joined!: () => void;
  const ready = new Promise<void>((resolve) => { joined = resolve; });
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  void consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key!.toString();
      const at = sentAt.get(key);
      if (at !== undefined) {
        e2eMs.push(performance.now() - at);
        sentAt.delete(key);
      }
    },
  });
  await ready;

  const produceMs: number[] = [];
  let sent = 0;
  let producing = true;
  const produceLoop = (async () => {
    while (producing) {
      const key = `k${sent++}`;
      const started = performance.now();
      sentAt.set(key, started);
      await producer.send({ topic: 'good', acks: -1, messages: [{ key, value: 'v' }] });
      produceMs.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, PRODUCE_INTERVAL_MS));
    }
  })();

  // Idle figure: the broker with its data written and the good client at work.
  await new Promise((r) => setTimeout(r, 1500));
  const idleRss = rssBytes(pid);
  produceMs.length = 0;
  e2eMs.length = 0;

  const attackers: Socket[] = [];
  for (let i = 0; i < ATTACKERS; i++) {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => {});
    socket.pause(); // never reads
    attackers.push(socket);
    t.after(() => socket.destroy());
    socket.write(Buffer.concat(Array.from({ length: FETCHES_PER_ATTACKER }, (_, n) => fetchFrame(n + 1, 'attack'))));
  }
  let peakRss = 0;
  const attackEnd = Date.now() + ATTACK_MS;
  while (Date.now() < attackEnd) {
    peakRss = Math.max(peakRss, rssBytes(pid));
    await new Promise((r) => setTimeout(r, 100));
  }
  const attackProduceMs = [...produceMs].sort((a, b) => a - b);
  const attackE2eMs = [...e2eMs].sort((a, b) => a - b);
  for (const socket of attackers) socket.destroy();
  const closedAt = Date.now();
  let afterRss = rssBytes(pid);
  while (afterRss > idleRss * RSS_RETURN_FACTOR && Date.now() - closedAt < RSS_RETURN_MS) {
    await new Promise((r) => setTimeout(r, 250));
    afterRss = rssBytes(pid);
  }
  producing = false;
  await produceLoop;
  const deadline = Date.now() + 5000;
  while (sentAt.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  t.diagnostic(`idle RSS ${mb(idleRss)}, peak during the attack ${mb(peakRss)}, ${((Date.now() - closedAt) / 1000).toFixed(1)} s after: ${mb(afterRss)}`);
  const over = (ms: number[]) => ms.filter((x) => x >= P99_LIMIT_MS).length;
  t.diagnostic(`during the attack: ${attackProduceMs.length} produces, ack p50/p99/max ${percentile(attackProduceMs, 0.5).toFixed(1)}/${percentile(attackProduceMs, 0.99).toFixed(1)}/${attackProduceMs.at(-1)?.toFixed(1)} ms (${over(attackProduceMs)} >= ${P99_LIMIT_MS} ms); ` +
    `${attackE2eMs.length} consumed, produce-to-consume p50/p99/max ${percentile(attackE2eMs, 0.5).toFixed(1)}/${percentile(attackE2eMs, 0.99).toFixed(1)}/${attackE2eMs.at(-1)?.toFixed(1)} ms (${over(attackE2eMs)} >= ${P99_LIMIT_MS} ms)`);
  assert.ok(peakRss < RSS_LIMIT_BYTES, `broker RSS reached ${mb(peakRss)} (limit ${mb(RSS_LIMIT_BYTES)})`);
  assert.ok(attackProduceMs.length >= ATTACK_MS / 100, `only ${attackProduceMs.length} produces were acknowledged during the attack`);
  assert.ok(percentile(attackProduceMs, 0.99) < P99_LIMIT_MS, `produce ack p99 ${percentile(attackProduceMs, 0.99).toFixed(1)} ms`);
  assert.ok(percentile(attackE2eMs, 0.99) < P99_LIMIT_MS, `produce-to-consume p99 ${percentile(attackE2eMs, 0.99).toFixed(1)} ms`);
  assert.equal(sentAt.size, 0, `${sentAt.size} produced records were never consumed`);
  assert.ok(afterRss <= idleRss * RSS_RETURN_FACTOR, `RSS ${mb(afterRss)} ${RSS_RETURN_MS / 1000} s after the attack, idle was ${mb(idleRss)}`);
});
