// The acks=all path's cheaper bookkeeping (issue 15): a request whose batches are all
// written gives its frame back to the frame pool while it waits for the ISR
// (replica/written-appends.ts), and the delayed produces of a partition share one expiry
// timer. The first must never let a reused frame show through: the bytes on every replica
// are checked against what was sent, with requests pipelined so that frames are reused
// while earlier requests still wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode, Reader, apiSpecByKey, decodeResponseHeader, encodeBatchSync, forEachBatch, responseHeaderVersion, type ProduceResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import { framePool } from '../src/network/frame-pool.js';

const PRODUCE_VERSION = 9;

function batchOf(values: string[]): Buffer {
  const now = Date.now();
  return encodeBatchSync({ baseOffset: 0, timestamp: now, records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: now })) });
}

/** Every batch of the log, as [records count, the bytes after the offsets and epoch] (what a producer sent, past the fields the broker stamps). */
function recordBytes(log: Log): Buffer[] {
  const read = log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset });
  if (read.kind !== 'ok') throw new Error(`${log.topicPartition} read out of range`);
  const out: Buffer[] = [];
  // From the attributes on (byte 21): the CRC-covered part, untouched by offsets and epoch.
  for (const buf of read.records) forEachBatch(buf, (at, size) => out.push(Buffer.from(buf.subarray(at + 21, at + size))));
  return out;
}

test('acks=all frames go back to the pool while waiting for the ISR, and every replica holds exactly the bytes sent', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 30_000 });
  const admin = await RawClient.open(cluster.broker(1).port);
  t.after(() => admin.close());
  const created = await admin.request('CreateTopics', 7, {
    topics: [{ name: 'reuse', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  const leader = cluster.leaderOf('reuse');
  const c = await RawClient.open(cluster.broker(leader).port);
  t.after(() => c.close());

  // Rounds of 5 pipelined requests (as a producer's max.in.flight), each batch with its own
  // values, ~40 KB so that the frames come from one pool size class.
  const sent: Buffer[] = [];
  const reusedBefore = framePool.reused;
  let correlationId = 1000;
  for (let round = 0; round < 8; round++) {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const values = Array.from({ length: 40 }, (_, k) => `r${round}-i${i}-k${k}-`.padEnd(1000, String.fromCharCode(97 + ((round * 5 + i + k) % 26))));
      const records = batchOf(values);
      sent.push(Buffer.from(records.subarray(21)));
      ids.push(correlationId);
      c.send(ApiKey.Produce, PRODUCE_VERSION, correlationId++, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: 'reuse', partitionData: [{ index: 0, records }] }] });
    }
    for (const id of ids) {
      const r = new Reader(await c.next(10_000));
      assert.equal(decodeResponseHeader(r, responseHeaderVersion(ApiKey.Produce, PRODUCE_VERSION)).correlationId, id);
      const response = apiSpecByKey(ApiKey.Produce)!.decodeResponse(r, PRODUCE_VERSION) as ProduceResponse;
      assert.equal(response.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    }
  }
  assert.ok(framePool.reused - reusedBefore >= 30, `acks=all request frames are reused (${framePool.reused - reusedBefore} of 40)`);

  const end = cluster.replica(leader, 'reuse').log.logEndOffset;
  assert.equal(end, 40 * 40);
  for (const id of [1, 2, 3]) {
    const log = cluster.replica(id, 'reuse').log;
    await waitFor(`broker ${id} at ${end}`, 10_000, () => (log.logEndOffset === end ? true : undefined));
    const held = recordBytes(log);
    assert.equal(held.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.ok(held[i]!.equals(sent[i]!), `broker ${id}, batch ${i}: the bytes sent`);
  }
});
