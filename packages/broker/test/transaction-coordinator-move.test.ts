// The transaction coordinator moving between brokers while a load is in progress or while
// the leadership goes away and comes back (the session-12 INVALID_TXN_STATE, docs/reliability.md):
// two coordinators over one in-memory `__transaction_state` (the replicated log both leaders
// see), driven through followTransactionStateLeadership as the replica manager drives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { silentLogger } from '../src/logger.js';
import type { ReplicaManager } from '../src/replica/replica-manager.js';
import type { CoordinatorLogRecord } from '../src/group/coordinator-log.js';
import { followTransactionStateLeadership } from '../src/transaction/follow-leadership.js';
import { TransactionCoordinator } from '../src/transaction/transaction-coordinator.js';
import type { TxnMarker, TxnMarkerWriter } from '../src/transaction/marker-writer.js';
import { TxnState } from '../src/transaction/transaction-metadata.js';
import { MemoryCoordinatorLog } from './helpers/memory-coordinator-log.js';

const TOPIC = '__transaction_state';

class RecordingMarkers implements TxnMarkerWriter {
  readonly written: TxnMarker[] = [];
  async write(marker: TxnMarker): Promise<number[]> {
    this.written.push(marker);
    return marker.partitions.map(() => ErrorCode.NONE);
  }
}

/** A replay that reads the log when called but delivers it only once `release()` is called: a slow load. */
class SlowReplayLog extends MemoryCoordinatorLog {
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;
  holdReplays(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  releaseReplays(): void {
    this.open?.();
    this.gate = null;
  }
  override async replay(partition: number, onRecord: (key: Buffer, value: Buffer | null) => void): Promise<void> {
    const snapshot: CoordinatorLogRecord[] = this.records(partition);
    if (this.gate !== null) await this.gate;
    for (const r of snapshot) onRecord(r.key, r.value);
  }
}

/** One broker: its leadership and leader epoch of partition 0, and the callbacks the replica manager would call. */
function broker(log: SlowReplayLog, t: { after(fn: () => unknown): void }) {
  const markers = new RecordingMarkers();
  const view = { leader: false, epoch: -1 };
  const listeners = new Set<(topic: string, partition: number, isLeader: boolean) => void>();
  const coordinator = new TransactionCoordinator({
    config: { numPartitions: 1, maxTimeoutMs: 900_000, idExpirationMs: 604_800_000, abortTimedOutIntervalMs: 3_600_000, removeExpiredIntervalMs: 3_600_000 },
    log,
    markers,
    nextProducerId: async () => 1000,
    ownedPartitions: () => (view.leader ? [0] : []),
    coordinatorEpoch: () => (view.leader ? view.epoch : -1),
    topicExists: () => true,
    createTopic: async () => undefined,
    logger: silentLogger,
  });
  const replicaManager = {
    onLeadershipChange: (l: (topic: string, partition: number, isLeader: boolean) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    partition: () => (view.leader ? { state: { leaderEpoch: view.epoch } } : { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }),
    metadataTopic: () => ({ partitions: [{ partition: 0 }] }),
  } as unknown as ReplicaManager;
  t.after(() => coordinator.shutdown());
  return {
    coordinator,
    markers,
    async start() {
      await coordinator.startup();
      followTransactionStateLeadership(coordinator, replicaManager, TOPIC, silentLogger);
    },
    /** The metadata names this broker leader (or not) at `epoch`; listeners hear only role changes, as ReplicaManager.applyState tells them. */
    lead(isLeader: boolean, epoch: number) {
      const was = view.leader;
      view.leader = isLeader;
      view.epoch = epoch;
      if (was !== isLeader) for (const l of listeners) l(TOPIC, 0, isLeader);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a load the leadership moved away from is discarded: the broker loads afresh when it leads again', async (t) => {
  const log = new SlowReplayLog();
  const one = broker(log, t);
  const two = broker(log, t);
  one.lead(true, 1);
  await one.start();
  await two.start();
  const c1 = one.coordinator;
  assert.deepEqual(await c1.initProducerId('tx', 30_000, null), { errorCode: 0, producerId: 1000, producerEpoch: 0 });
  assert.equal(await c1.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }]), ErrorCode.NONE);
  assert.equal((await c1.endTransaction('tx', 1000, 0, true, false)).errorCode, ErrorCode.NONE);
  await c1.idle();

  // Broker 2 is elected (epoch 2) and starts a slow load that sees the log as it is now.
  log.holdReplays();
  one.lead(false, 2);
  two.lead(true, 2);
  await settle();
  // Before the load ends the leadership returns to broker 1 (epoch 3), which runs the next transaction.
  two.lead(false, 3);
  log.releaseReplays();
  one.lead(true, 3);
  await settle();
  assert.equal(c1.coordinatorStatus('tx'), ErrorCode.NONE);
  assert.equal(await c1.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 2 }]), ErrorCode.NONE);
  assert.equal(two.coordinator.coordinatorStatus('tx'), ErrorCode.NOT_COORDINATOR, 'the overtaken load does not make broker 2 a coordinator');

  // Broker 2 leads again (epoch 4): it must serve what the log holds now, the Ongoing transaction.
  one.lead(false, 4);
  two.lead(true, 4);
  await settle();
  const c2 = two.coordinator;
  assert.equal(c2.get('tx')?.state, TxnState.Ongoing);
  assert.deepEqual(await c2.endTransaction('tx', 1000, 0, false, false), { errorCode: 0, producerId: 1000, producerEpoch: 0 });
  await c2.idle();
  assert.equal(c2.get('tx')?.state, TxnState.CompleteAbort);
  // Broker 2 wrote markers for the aborted transaction only, once per partition.
  assert.deepEqual(two.markers.written.map((m) => [m.commit, m.coordinatorEpoch, m.partitions]), [[false, 4, [{ topic: 'a', partition: 2 }]]]);
});

test('a new leader epoch the broker did not see as a role change makes it load the partition again', async (t) => {
  const log = new SlowReplayLog();
  const one = broker(log, t);
  const two = broker(log, t);
  two.lead(true, 1);
  await one.start();
  await two.start();
  const c2 = two.coordinator;
  await c2.initProducerId('tx', 30_000, null);
  assert.equal(await c2.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.NONE);
  assert.equal((await c2.endTransaction('tx', 1000, 0, true, false)).errorCode, ErrorCode.NONE);
  await c2.idle();

  // Broker 2 is cut off; broker 1 leads at epoch 2 and starts the next transaction. Broker 2 only
  // learns the final state, itself leader again at epoch 3 (no leader -> follower -> leader change).
  one.lead(true, 2);
  await settle();
  assert.equal(await one.coordinator.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 1 }]), ErrorCode.NONE);
  one.lead(false, 3);
  two.lead(true, 3);
  // The first request finds the epoch changed: the partition is loaded again before it is served.
  assert.equal(c2.coordinatorStatus('tx'), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  await settle();
  assert.equal(c2.coordinatorStatus('tx'), ErrorCode.NONE);
  assert.equal(c2.get('tx')?.state, TxnState.Ongoing);
  assert.deepEqual(await c2.endTransaction('tx', 1000, 0, false, false), { errorCode: 0, producerId: 1000, producerEpoch: 0 });
  await c2.idle();
  assert.equal(c2.get('tx')?.state, TxnState.CompleteAbort);
});

test('a state change written after the coordinator lost its partition is not applied to the new leadership', async (t) => {
  const log = new SlowReplayLog();
  const one = broker(log, t);
  one.lead(true, 1);
  await one.start();
  const c1 = one.coordinator;
  await c1.initProducerId('tx', 30_000, null);
  log.holdAppends();
  const adding = c1.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]);
  // The leadership moves away and back while the append waits for its replicas.
  one.lead(false, 2);
  one.lead(true, 3);
  await settle();
  log.releaseAppends();
  assert.equal(await adding, ErrorCode.NOT_COORDINATOR);
  await settle();
  // The reloaded state is what the log holds; the client's retry is answered from it.
  assert.equal(c1.coordinatorStatus('tx'), ErrorCode.NONE);
  assert.equal(await c1.addPartitions('tx', 1000, 0, [{ topic: 'a', partition: 0 }]), ErrorCode.NONE);
  assert.equal(c1.get('tx')?.state, TxnState.Ongoing);
});
