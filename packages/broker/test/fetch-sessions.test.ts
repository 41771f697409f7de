/**
 * Incremental fetch sessions (KIP-227) and long polls, over a real socket with raw
 * requests, since none of the clients installed here uses sessions (the Java client does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatchSync, ErrorCode, type FetchRequest } from '@tributary/protocol';
import { RawClient } from './helpers/raw-client.js';
import { startBrokerWithClient, type TestContext } from './helpers/broker.js';

async function setup(t: TestContext) {
  const { broker, client } = await startBrokerWithClient(t, 'fetch');
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 's', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, 0);
  const produce = async (partition: number, value: string) => {
    const batch = encodeBatchSync({ records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }] });
    const r = await client.request('Produce', 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 's', partitionData: [{ index: partition, records: batch }] }] });
    assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, 0);
  };
  return { broker, client, produce };
}

function fetchRequest(sessionId: number, sessionEpoch: number, partitions: { partition: number; fetchOffset: number }[], forgotten: number[] = []): FetchRequest {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics: partitions.length === 0 ? [] : [{ topic: 's', partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 })) }],
    forgottenTopicsData: forgotten.length === 0 ? [] : [{ topic: 's', partitions: forgotten }],
    rackId: '',
  };
}

test('a full fetch with epoch 0 opens a session; incremental fetches answer only what changed', async (t) => {
  const { client, produce } = await setup(t);
  await produce(0, 'a');
  const full = await client.request('Fetch', 12, fetchRequest(0, 0, [0, 1, 2].map((partition) => ({ partition, fetchOffset: 0 }))));
  assert.equal(full.errorCode, 0);
  const sessionId = full.sessionId ?? 0;
  assert.ok(sessionId > 0, 'a session id is handed out');
  assert.deepEqual(full.responses[0]!.partitions.map((p) => [p.partitionIndex, p.highWatermark]), [[0, 1], [1, 0], [2, 0]]);

  // Epoch 1: the client moved partition 0 to offset 1; nothing changed anywhere.
  const quiet = await client.request('Fetch', 12, fetchRequest(sessionId, 1, [{ partition: 0, fetchOffset: 1 }]));
  assert.equal(quiet.errorCode, 0);
  assert.equal(quiet.sessionId, sessionId);
  assert.deepEqual(quiet.responses, [], 'no partition has news');

  // New data on partition 2 only: the incremental answer carries partition 2 alone.
  await produce(2, 'b');
  const news = await client.request('Fetch', 12, fetchRequest(sessionId, 2, []));
  assert.deepEqual(news.responses[0]!.partitions.map((p) => [p.partitionIndex, p.highWatermark]), [[2, 1]]);
  assert.ok((news.responses[0]!.partitions[0]!.records?.length ?? 0) > 0);

  // Forgetting partition 2 removes it from the session.
  await produce(2, 'c');
  const forgot = await client.request('Fetch', 12, fetchRequest(sessionId, 3, [], [2]));
  assert.deepEqual(forgot.responses, []);

  // Wrong epoch, unknown session.
  const badEpoch = await client.request('Fetch', 12, fetchRequest(sessionId, 9, []));
  assert.equal(badEpoch.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
  const unknown = await client.request('Fetch', 12, fetchRequest(12345, 1, []));
  assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

  // Epoch -1 closes the session: the fetch is sessionless (id 0) and later use is refused.
  const closed = await client.request('Fetch', 12, fetchRequest(sessionId, -1, [{ partition: 0, fetchOffset: 0 }]));
  assert.equal(closed.sessionId, 0);
  const after = await client.request('Fetch', 12, fetchRequest(sessionId, 4, []));
  assert.equal(after.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
});

test('a long poll waits up to maxWaitMs and returns as soon as data arrives', async (t) => {
  const { broker, produce } = await setup(t);
  const poller = await RawClient.open(broker.port);
  t.after(() => poller.close());
  const waitOnly = { ...fetchRequest(0, -1, [{ partition: 1, fetchOffset: 0 }]), maxWaitMs: 300, minBytes: 1 };
  let started = Date.now();
  const empty = await poller.request('Fetch', 12, waitOnly);
  const waited = Date.now() - started;
  assert.ok(waited >= 250, `an empty long poll waited ${waited} ms`);
  assert.equal(empty.responses[0]!.partitions[0]!.records?.length ?? 0, 0);

  started = Date.now();
  const pending = poller.request('Fetch', 12, { ...waitOnly, maxWaitMs: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  await produce(1, 'wake up');
  const woken = await pending;
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2_000, `the poll returned ${elapsed} ms after it started, not at its 10 s deadline`);
  assert.ok((woken.responses[0]!.partitions[0]!.records?.length ?? 0) > 0);
});

test('a woken long poll keeps its deadline when the wall clock steps back (monotonic, as Kafka\'s DelayedFetch)', async (t) => {
  const { broker, produce } = await setup(t);
  const poller = await RawClient.open(broker.port);
  t.after(() => poller.close());
  // minBytes the small record does not reach: the poll wakes, reads too little and waits again.
  const started = performance.now();
  const pending = poller.request('Fetch', 12, { ...fetchRequest(0, -1, [{ partition: 2, fetchOffset: 0 }]), maxWaitMs: 500, minBytes: 1 << 20 }, { timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  const realNow = Date.now.bind(Date);
  const HOUR_MS = 3_600_000;
  t.mock.method(Date, 'now', () => realNow() - HOUR_MS);
  await produce(2, 'too little');
  await pending;
  t.mock.restoreAll();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 3_000, `the poll returned ${Math.round(elapsed)} ms after it started (its deadline: 500 ms), not an hour later`);
});
