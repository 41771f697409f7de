// Issue 15: the leader's recent-appends chunks are reused (storage recent-appends.ts, a
// broker-wide pool) once the cache dropped them and every Fetch response holding a slice of
// them has been written. Under acks=all load on an in-process 3-broker cluster, with a
// consumer tailing the leader and another that stops reading with fetches in flight (their
// responses wait in the leader's socket buffer while the chunks behind them are dropped),
// chunks are reused many times over, and every byte fetched is intact: each batch's CRC
// matches, and each follower's log equals the leader's segment files.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode, Reader, apiSpecByKey, batchCrcMatches, decodeResponseHeader, encodeBatchSync, forEachBatch, responseHeaderVersion, type FetchRequest, type FetchResponse } from '@tributary/protocol';
import { chunkPool, type Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';

/** ~12 MB in 32 KiB batches: ~48 full chunks of 256 KiB, against a 1 MiB per-partition cache. */
const BATCHES = 384;
const RECORDS_PER_BATCH = 32;
const VALUE_BYTES = 1000;
/** Producers at once (RawClient has one request in flight per connection). */
const PRODUCERS = 4;

function batchOf(i: number): Buffer {
  const now = Date.now();
  return encodeBatchSync({
    baseOffset: 0, timestamp: now,
    records: Array.from({ length: RECORDS_PER_BATCH }, (_, j) => ({ key: null, value: Buffer.alloc(VALUE_BYTES, `${i}:${j};`), timestamp: now })),
  });
}

/** The segment files' bytes, in order (what the log holds on disk, never its memory). */
function segmentFileBytes(log: Log): Buffer {
  const files = readdirSync(log.dir).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(files.map((f) => readFileSync(join(log.dir, f))));
}

function fetchRequest(offset: number, partitionMaxBytes: number, maxWaitMs: number): FetchRequest {
  return {
    replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 4 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'reuse', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

function checkCrcs(records: Buffer, what: string): number {
  let n = 0;
  forEachBatch(records, (at, size) => {
    assert.ok(batchCrcMatches(records, at, size), `${what}: batch at ${at} has a bad CRC (bytes overwritten)`);
    n++;
  });
  return n;
}

test('recent-appends chunks are reused under acks=all load while followers and a tailing consumer fetch, and every fetched byte is intact', { timeout: 60_000 }, async (t) => {
  // A paused follower stays in the ISR for the whole test (see the stopped readers below).
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 60_000 });
  const admin = await RawClient.open(cluster.broker(1).port);
  t.after(() => admin.close());
  const created = await admin.request('CreateTopics', 7, {
    topics: [{ name: 'reuse', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
    timeoutMs: 5000, validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  const leader = cluster.leaderOf('reuse');
  await waitFor('ISR of 3', 10_000, () => (cluster.isrOf('reuse').length === 3 ? true : undefined));
  const producers = await Promise.all(Array.from({ length: PRODUCERS }, () => RawClient.open(cluster.broker(leader).port)));
  t.after(() => { for (const p of producers) p.close(); });
  const consumer = await RawClient.open(cluster.broker(leader).port);
  t.after(() => consumer.close());
  const reusedBefore = chunkPool.reused;

  // A consumer tailing the leader: its fetches are served from the same chunks.
  let producing = true;
  let consumed = 0;
  let offset = 0;
  const tail = (async () => {
    while (producing || offset < BATCHES * RECORDS_PER_BATCH) {
      const r = await consumer.request('Fetch', 12, fetchRequest(offset, 300_000, 100));
      const p = r.responses[0]!.partitions[0]!;
      assert.equal(p.errorCode, ErrorCode.NONE);
      const records = p.records ?? Buffer.alloc(0);
      consumed += checkCrcs(records, `consumer fetch at ${offset}`);
      forEachBatch(records, (at) => {
        const base = Number(records.readBigInt64BE(at));
        const lastDelta = records.readInt32BE(at + 23);
        offset = Math.max(offset, base + lastDelta + 1);
      });
    }
  })();

  // Readers that stop reading with a response in flight. A follower that stopped fetching but
  // is still in the ISR makes the leader keep up to 1 MiB of appends (acks=1 goes on meanwhile);
  // fetches in its name (replica id, so read to the log end) from the start of what is kept,
  // each on its own connection that stops reading, are answered from the cache while later
  // appends push every chunk they read out of it and reuse them; the answers arrive intact.
  // (Such a ~1 MB read spans chunks and is assembled in a buffer of its own, and loopback's
  // kernel buffers take ~4 MB, so this does not catch a chunk reused under a write still in
  // progress: network-response-written.test.ts and the storage tests do.)
  let next = 0;
  const produceAll = async (acks: number, until: number) => {
    await Promise.all(producers.map(async (producer) => {
      while (next < until) {
        const i = next++;
        const r = await producer.request('Produce', 9, { transactionalId: null, acks, timeoutMs: 10_000, topicData: [{ name: 'reuse', partitionData: [{ index: 0, records: batchOf(i) }] }] }, { timeoutMs: 20_000 });
        assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
      }
    }));
  };
  const leaderLog = cluster.replica(leader, 'reuse').log;
  const [stopped] = [1, 2, 3].filter((b) => b !== leader);
  await produceAll(-1, BATCHES / 2);
  cluster.broker(stopped!).services.replicaManager.pauseFetching();
  await produceAll(1, BATCHES / 2 + 40); // ~1.3 MB: the cache keeps its 1 MiB bound for the stopped follower
  const SLOW = 2;
  const slow = await Promise.all(Array.from({ length: SLOW }, () => RawClient.open(cluster.broker(leader).port)));
  t.after(() => { for (const c of slow) c.close(); });
  for (const [k, c] of slow.entries()) {
    c.socket.pause();
    const from = leaderLog.recentAppends!.firstOffset;
    assert.ok(from >= 0 && leaderLog.logEndOffset - from > 500, 'the cache holds the stopped follower\'s appends');
    c.send(ApiKey.Fetch, 12, 100 + k, { ...fetchRequest(from, 1 << 20, 0), replicaId: stopped! });
    await produceAll(1, next + 40); // ~1.3 MB: pushes every chunk of the response in flight out of the cache
  }
  await produceAll(1, BATCHES);
  // The paused follower fetches again once restarted (its high watermark too).
  await cluster.stopBroker(stopped!);
  await cluster.startBroker(stopped!);
  producing = false;
  await tail;
  let slowBatches = 0;
  for (const [k, c] of slow.entries()) {
    c.socket.resume();
    const r = new Reader(await c.next(10_000));
    assert.equal(decodeResponseHeader(r, responseHeaderVersion(ApiKey.Fetch, 12)).correlationId, 100 + k);
    const response = apiSpecByKey(ApiKey.Fetch)!.decodeResponse(r, 12) as FetchResponse;
    const p = response.responses[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.ok((p.records?.length ?? 0) > 500_000, `a large response (${p.records?.length})`);
    slowBatches += checkCrcs(p.records ?? Buffer.alloc(0), `stopped reader ${k}`);
  }
  assert.ok(slowBatches > SLOW, `the stopped readers got their data (${slowBatches} batches)`);
  assert.ok(consumed >= BATCHES, `the consumer read every batch (${consumed})`);

  const end = BATCHES * RECORDS_PER_BATCH;
  const expected = segmentFileBytes(cluster.replica(leader, 'reuse').log);
  checkCrcs(expected, 'leader segment files');
  for (const id of [1, 2, 3].filter((b) => b !== leader)) {
    const log = cluster.replica(id, 'reuse').log;
    await waitFor(`broker ${id} at the log end`, 10_000, () => (log.logEndOffset === end ? true : undefined));
    const held = segmentFileBytes(log);
    assert.equal(checkCrcs(held, `follower ${id}`), BATCHES);
    assert.ok(held.equals(expected), `follower ${id} holds the leader's bytes`);
  }
  const reused = chunkPool.reused - reusedBefore;
  assert.ok(reused >= 10, `chunks reused: ${reused} (allocated ${chunkPool.allocated} in all)`);
});
