// The transaction coordinator's inter-broker side without sockets: the marker channel
// (WriteTxnMarkers per destination broker, batching, per-partition codes for the coordinator's
// retry rules) and the AddPartitionsToTxn manager (questions batched per coordinator, network
// failures as NETWORK_EXCEPTION, Produce's translation of them), over a fake InterBrokerClient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type ProduceRequest } from '@tributary/protocol';
import { createLogger } from '../src/index.js';
import type { InterBrokerClient } from '../src/network/inter-broker-client.js';
import { TxnMarkerChannel } from '../src/transaction/marker-channel.js';
import type { TxnMarker, TxnMarkerWriter } from '../src/transaction/marker-writer.js';
import { AddPartitionsToTxnManager } from '../src/transaction/add-partitions-manager.js';
import { verifyTransactionalProduce } from '../src/transaction/produce-verification.js';
import type { TransactionCoordinator } from '../src/transaction/transaction-coordinator.js';

const logger = createLogger({ level: 'silent' });

interface Sent { broker: number; api: string; version: number; body: any }

/** A fake client: records requests, answers with `answer` (or throws what it returns as an Error) once released. */
function fakeClient(answer: (s: Sent) => unknown | Error): { client: InterBrokerClient; sent: Sent[]; release: () => void; hold: () => void } {
  const sent: Sent[] = [];
  let held = false;
  let waiting: (() => void)[] = [];
  const client = {
    async request(broker: number, api: string, version: number, body: unknown) {
      const s = { broker, api, version, body };
      sent.push(s);
      if (held) await new Promise<void>((r) => waiting.push(r));
      const a = answer(s);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as InterBrokerClient;
  return {
    client,
    sent,
    hold: () => (held = true),
    release: () => {
      held = false;
      for (const w of waiting.splice(0)) w();
      waiting = [];
    },
  };
}

/** WriteTxnMarkers answered NONE for every partition, except those named in `codes`. */
function markersAnswer(codes: Record<string, number> = {}) {
  return (s: Sent) => ({
    markers: s.body.markers.map((m: any) => ({
      producerId: m.producerId,
      topics: m.topics.map((t: any) => ({ name: t.name, partitions: t.partitionIndexes.map((p: number) => ({ partitionIndex: p, errorCode: codes[`${t.name}-${p}`] ?? ErrorCode.NONE })) })),
    })),
  });
}

const marker = (producerId: number, partitions: [string, number][]): TxnMarker => ({ producerId, producerEpoch: 3, coordinatorEpoch: 7, commit: true, partitions: partitions.map(([topic, partition]) => ({ topic, partition })) });

test('marker channel: local, remote, leaderless and deleted partitions each get their code; a failed request is REQUEST_TIMED_OUT', async () => {
  const leaders: Record<string, number | undefined> = { 'a-0': 1, 'a-1': 2, 'a-2': -1, 'b-0': 3, 'b-1': 2 };
  const localWrites: TxnMarker[] = [];
  const local: TxnMarkerWriter = { write: async (m) => { localWrites.push(m); return m.partitions.map(() => ErrorCode.NONE); } };
  const fake = fakeClient((s) => (s.broker === 3 ? new Error('connection refused') : markersAnswer({ 'b-1': ErrorCode.NOT_LEADER_OR_FOLLOWER })(s)));
  const channel = new TxnMarkerChannel({ nodeId: 1, local, leaderOf: (t, p) => leaders[`${t}-${p}`], client: fake.client, requestTimeoutMs: 1000, logger });
  const codes = await channel.write(marker(42, [['a', 0], ['a', 1], ['a', 2], ['b', 0], ['b', 1], ['gone', 0]]));
  assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual(localWrites.map((m) => m.partitions), [[{ topic: 'a', partition: 0 }]]);
  const toBroker2 = fake.sent.find((s) => s.broker === 2)!;
  assert.equal(toBroker2.api, 'WriteTxnMarkers');
  assert.equal(toBroker2.version, 1);
  assert.deepEqual(toBroker2.body.markers, [{ producerId: 42, producerEpoch: 3, transactionResult: true, coordinatorEpoch: 7, topics: [{ name: 'a', partitionIndexes: [1] }, { name: 'b', partitionIndexes: [1] }] }]);
});

test('marker channel: markers queued while a request is in flight go out together, one per producer id per request', async () => {
  const fake = fakeClient(markersAnswer());
  const local: TxnMarkerWriter = { write: async () => [] };
  const channel = new TxnMarkerChannel({ nodeId: 1, local, leaderOf: () => 2, client: fake.client, requestTimeoutMs: 1000, logger });
  fake.hold();
  const first = channel.write(marker(1, [['t', 0]]));
  await new Promise((r) => setImmediate(r));
  const queued = [channel.write(marker(2, [['t', 0]])), channel.write(marker(3, [['t', 1]])), channel.write(marker(2, [['t', 2]]))];
  fake.release();
  assert.deepEqual(await Promise.all([first, ...queued]), [[0], [0], [0], [0]]);
  assert.deepEqual(fake.sent.map((s) => s.body.markers.map((m: any) => m.producerId)), [[1], [2, 3], [2]]);
});

// ---------------------------------------------------------------- AddPartitionsToTxn manager

function fakeCoordinator(partitionOf: Record<string, number>): TransactionCoordinator {
  return {
    partitionFor: (id: string) => partitionOf[id] ?? 0,
    verifyPartitions: (_id: string, _pid: number, _epoch: number, parts: unknown[]) => ({ perPartition: parts.map(() => ErrorCode.NONE) }),
    addPartitions: async () => ErrorCode.NONE,
  } as unknown as TransactionCoordinator;
}

function addAnswer(codes: Record<string, number> = {}) {
  return (s: Sent) => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    resultsByTransaction: s.body.transactions.map((t: any) => ({
      transactionalId: t.transactionalId,
      topicResults: t.topics.map((x: any) => ({ name: x.name, resultsByPartition: x.partitions.map((p: number) => ({ partitionIndex: p, partitionErrorCode: codes[`${t.transactionalId}/${x.name}-${p}`] ?? ErrorCode.NONE })) })),
    })),
  });
}

test('AddPartitionsToTxn manager: local questions in-process, remote ones batched per coordinator in v5 requests, failures as NETWORK_EXCEPTION', async () => {
  // Transaction partition 0 led here (1), 1 by broker 2, 2 by nobody.
  const coordinatorOf: Record<number, number> = { 0: 1, 1: 2, 2: -1 };
  const fake = fakeClient(addAnswer({ 'r2/t-1': ErrorCode.INVALID_TXN_STATE }));
  const manager = new AddPartitionsToTxnManager({ nodeId: 1, coordinator: fakeCoordinator({ l: 0, r1: 1, r2: 1, r3: 1, none: 2 }), coordinatorNodeOf: (p) => coordinatorOf[p], client: fake.client, requestTimeoutMs: 1000, logger });
  const q = (transactionalId: string, partitions: number[], operation: 'verify' | 'add' = 'verify') => ({ transactionalId, producerId: 9, producerEpoch: 1, partitions: partitions.map((partition) => ({ topic: 't', partition })), operation });
  // In-process and synchronous for a local verify.
  assert.deepEqual(manager.ask(q('l', [0, 1])), [ErrorCode.NONE, ErrorCode.NONE]);
  assert.deepEqual(manager.ask(q('none', [0])), [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  fake.hold();
  const first = manager.ask(q('r1', [0]));
  await new Promise((r) => setImmediate(r));
  const later = [manager.ask(q('r2', [0, 1], 'add')), manager.ask(q('r3', [5])), manager.ask(q('r2', [2]))];
  fake.release();
  assert.deepEqual(await Promise.all([first, ...later]), [[0], [0, ErrorCode.INVALID_TXN_STATE], [0], [0]]);
  assert.deepEqual(fake.sent.map((s) => [s.broker, s.api, s.version, s.body.transactions.map((t: any) => [t.transactionalId, t.verifyOnly])]), [
    [2, 'AddPartitionsToTxn', 5, [['r1', true]]],
    [2, 'AddPartitionsToTxn', 5, [['r2', false], ['r3', true]]],
    [2, 'AddPartitionsToTxn', 5, [['r2', true]]],
  ]);

  // A coordinator that cannot be reached: NETWORK_EXCEPTION, which a Produce answers NOT_ENOUGH_REPLICAS (retriable).
  const down = fakeClient(() => new Error('connection refused'));
  const cut = new AddPartitionsToTxnManager({ nodeId: 1, coordinator: fakeCoordinator({ r1: 1 }), coordinatorNodeOf: (p) => coordinatorOf[p], client: down.client, requestTimeoutMs: 1000, logger });
  assert.deepEqual(await cut.ask(q('r1', [0])), [ErrorCode.NETWORK_EXCEPTION]);
  const records = encodeBatchSync({ producerId: 9, producerEpoch: 1, baseSequence: 0, transactional: true, records: [{ key: null, value: Buffer.from('x') }] });
  const req: ProduceRequest = { transactionalId: 'r1', acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] };
  const refused = await verifyTransactionalProduce(cut, req, 'verify');
  assert.ok(refused !== null && typeof refused === 'object');
  assert.deepEqual((refused as Map<string, unknown>).get('t\u00000'), { errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, errorMessage: 'Unable to verify the partition has been added to the transaction. Underlying error: NETWORK_EXCEPTION' });
});
