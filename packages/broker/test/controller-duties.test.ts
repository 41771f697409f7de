// The controller's duties over a real LocalMetadataStore with fake registered brokers (no
// sockets): failover picks the first live ISR member in replica order and bumps the leader
// epoch, a partition with no live ISR member goes offline (or elects uncleanly when
// enabled), a returning broker leads its offline partitions again, controlled shutdown
// moves leadership away, reassignments complete, preferred-leader balancing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerConfig } from '../src/config/broker-config.js';
import { silentLogger } from '../src/logger.js';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import type { BrokerRegistration, PartitionState } from '../src/metadata/metadata-store.js';
import { Controller } from '../src/controller/controller.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { CONTROLLER_CHECK_INTERVAL_MS, runControllerDuties, storeMembership } from '../src/metadata/controller-election.js';
import { clusterView } from '../src/controller/controller.js';
import { controlledShutdown, controlledShutdownPending } from '../src/controller/controlled-shutdown.js';
import { cancelReassignment, electPreferred, electUnclean, reconcile, startReassignment } from '../src/controller/partition-change.js';

function broker(nodeId: number, extra: Partial<BrokerRegistration> = {}): BrokerRegistration {
  return { nodeId, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' }], rack: null, ...extra };
}

async function setup(t: { after(fn: () => unknown): void }, options: { brokers?: number[]; config?: Record<string, unknown>; scheduler?: ManualScheduler } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'trib-controller-'));
  const metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  for (const nodeId of options.brokers ?? [1, 2, 3]) await metadata.registerBroker(broker(nodeId));
  const config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir, ...(options.config ?? {}) }]);
  const controller = new Controller({ metadata, nodeId: 1, config: () => config, logger: silentLogger, ...(options.scheduler ? { scheduler: options.scheduler } : {}) });
  controller.start();
  await controller.idle();
  t.after(async () => { controller.stop(); await metadata.close(); rmSync(dir, { recursive: true, force: true }); });
  const partition = (topic: string, p = 0): PartitionState => metadata.topic(topic)!.partitions[p]!;
  return { metadata, controller, partition };
}

const state = (s: Partial<PartitionState>): PartitionState => ({ partition: 0, replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2, 3], partitionEpoch: 0, ...s });
const view = (live: number[], shuttingDown: number[] = []) => ({ live: new Set(live), shuttingDown: new Set(shuttingDown) });

test('failover: the first live ISR member in replica order leads, epoch bumped, the dead broker leaves every ISR', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'a', partitions: [
    { replicas: [1, 3, 2], leader: 1, isr: [1, 2, 3] },
    { replicas: [2, 1, 3], leader: 2, isr: [2, 1, 3] },
  ] });
  await metadata.unregisterBroker(1);
  await controller.idle();
  const p0 = partition('a', 0);
  assert.equal(p0.leader, 3, 'replica order [1,3,2] puts 3 before 2');
  assert.equal(p0.leaderEpoch, 1);
  assert.deepEqual(p0.isr, [2, 3]);
  const p1 = partition('a', 1);
  assert.equal(p1.leader, 2, 'a partition the dead broker only followed keeps its leader');
  assert.equal(p1.leaderEpoch, 0, 'and its leader epoch');
  assert.deepEqual(p1.isr, [2, 3]);
  assert.equal(p1.partitionEpoch, 1);
});

test('failover: only ISR members may lead; with none live the partition goes offline and keeps its last ISR member', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'a', partitions: [{ replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3] }] });
  // The followers fell out of sync (the leader shrank the ISR).
  await metadata.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 0, isr: [1] });
  await metadata.unregisterBroker(1);
  await controller.idle();
  const p = partition('a');
  assert.equal(p.leader, -1);
  assert.equal(p.leaderEpoch, 1);
  assert.deepEqual(p.isr, [1], 'the last in-sync replica stays recorded');
  // It comes back: it is the one clean candidate, and leads again.
  await metadata.registerBroker(broker(1));
  await controller.idle();
  assert.equal(partition('a').leader, 1);
  assert.equal(partition('a').leaderEpoch, 2);
});

test('unclean.leader.election.enable (topic override): an out-of-sync live replica leads with ISR = [itself]', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'u', partitions: [{ replicas: [1, 2, 3], leader: 1, isr: [1] }], configs: { 'unclean.leader.election.enable': 'true' } });
  await metadata.createTopic({ name: 'c', partitions: [{ replicas: [1, 2, 3], leader: 1, isr: [1] }] });
  await metadata.unregisterBroker(1);
  await controller.idle();
  assert.equal(partition('u').leader, 2);
  assert.deepEqual(partition('u').isr, [2]);
  assert.equal(partition('c').leader, -1, 'Kafka default: no unclean election');
  // Turning it on for the offline topic elects at once.
  await metadata.alterTopicConfigs('c', { 'unclean.leader.election.enable': 'true' });
  await controller.idle();
  assert.equal(partition('c').leader, 2);
});

test('unclean.leader.election.enable (broker config) applies to topics without an override', async (t) => {
  const { metadata, controller, partition } = await setup(t, { config: { 'unclean.leader.election.enable': true } });
  await metadata.createTopic({ name: 'a', partitions: [{ replicas: [1, 2], leader: 1, isr: [1] }] });
  await metadata.unregisterBroker(1);
  await controller.idle();
  assert.equal(partition('a').leader, 2);
});

test('controlled shutdown: leadership moves off the broker and it leaves the ISRs while still registered', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'a', partitions: [
    { replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3] },
    { replicas: [1, 2, 3], leader: 1, isr: [1] },
    { replicas: [2, 1, 3], leader: 2, isr: [2, 1, 3] },
  ] });
  await metadata.registerBroker(broker(1, { inControlledShutdown: true }));
  await controller.idle();
  assert.equal(partition('a', 0).leader, 2);
  assert.deepEqual(partition('a', 0).isr, [2, 3]);
  assert.equal(partition('a', 1).leader, 1, 'no one else is in sync: it leads until it is gone');
  assert.deepEqual(partition('a', 2).isr, [2, 3]);
  await metadata.unregisterBroker(1);
  await controller.idle();
  assert.equal(partition('a', 1).leader, -1);
});

test('reassignment: adding and removing tracked, completed once the targets are in the ISR, removed leader replaced', async (t) => {
  const { metadata, controller, partition } = await setup(t, { brokers: [1, 2, 3, 4] });
  await metadata.createTopic({ name: 'r', partitions: [{ replicas: [1, 2], leader: 1, isr: [1, 2] }] });
  const start = startReassignment(partition('r'), [3, 4], clusterView(metadata), false)!;
  await metadata.updatePartition({ topic: 'r', partition: 0, expectedPartitionEpoch: 0, ...start });
  let p = partition('r');
  assert.deepEqual(p.replicas, [3, 4, 1, 2]);
  assert.deepEqual(p.addingReplicas, [3, 4]);
  assert.deepEqual(p.removingReplicas, [1, 2]);
  assert.equal(p.leader, 1, 'the leader stays until the reassignment completes');
  // The leader adds 3 to the ISR: not complete yet.
  await metadata.updatePartition({ topic: 'r', partition: 0, expectedPartitionEpoch: p.partitionEpoch, isr: [1, 2, 3] });
  await controller.idle();
  assert.deepEqual(partition('r').addingReplicas, [3, 4]);
  // And 4: complete.
  await metadata.updatePartition({ topic: 'r', partition: 0, expectedPartitionEpoch: partition('r').partitionEpoch, isr: [1, 2, 3, 4] });
  await controller.idle();
  p = partition('r');
  assert.deepEqual(p.replicas, [3, 4]);
  assert.deepEqual(p.isr, [3, 4]);
  assert.equal(p.leader, 3);
  assert.equal(p.addingReplicas, undefined);
  assert.equal(p.removingReplicas, undefined);
});

test('reassignment: cancel returns to the original replicas; a change within the ISR completes at once', () => {
  const v = view([1, 2, 3, 4]);
  const s = state({ replicas: [3, 1, 2], isr: [1, 2], addingReplicas: [3], removingReplicas: [2], leader: 2 });
  const cancelled = cancelReassignment(s, v, false)!;
  assert.deepEqual(cancelled.replicas, [1, 2]);
  assert.deepEqual(cancelled.addingReplicas, []);
  assert.deepEqual(cancelled.removingReplicas, []);
  assert.equal(cancelled.leader, undefined, 'the leader is an original replica and stays');
  const shrink = startReassignment(state({}), [2, 3], v, false)!;
  assert.deepEqual(shrink.replicas, [2, 3]);
  assert.deepEqual(shrink.isr, [2, 3]);
  assert.equal(shrink.leader, 2);
  assert.equal(shrink.bumpLeaderEpoch, true);
  assert.equal(shrink.addingReplicas, undefined);
  // Replacing a reassignment in progress starts from the original replicas.
  const replaced = startReassignment(state({ replicas: [4, 1, 2, 3], addingReplicas: [4], removingReplicas: [1] }), [1, 2, 3], v, false)!;
  assert.deepEqual(replaced.replicas, [1, 2, 3]);
  assert.deepEqual(replaced.addingReplicas, []);
  assert.deepEqual(replaced.removingReplicas, []);
});

test('elections: preferred and unclean outcomes', () => {
  assert.deepEqual(electPreferred(state({}), view([1, 2, 3])), { ok: false, reason: 'ELECTION_NOT_NEEDED' });
  assert.deepEqual(electPreferred(state({ leader: 2 }), view([2, 3])), { ok: false, reason: 'PREFERRED_LEADER_NOT_AVAILABLE' });
  assert.deepEqual(electPreferred(state({ leader: 2, isr: [2, 3] }), view([1, 2, 3])), { ok: false, reason: 'PREFERRED_LEADER_NOT_AVAILABLE' });
  assert.deepEqual(electPreferred(state({ leader: 2 }), view([1, 2, 3])), { ok: true, change: { leader: 1, bumpLeaderEpoch: true } });
  // A leaderless partition whose preferred replica is unavailable gets the next eligible one (Kafka's fallback).
  assert.deepEqual(electPreferred(state({ leader: -1, isr: [2, 3] }), view([2, 3])), { ok: true, change: { leader: 2, bumpLeaderEpoch: true } });
  assert.deepEqual(electPreferred(state({ leader: -1, isr: [1] }), view([2, 3])), { ok: false, reason: 'PREFERRED_LEADER_NOT_AVAILABLE' });
  assert.deepEqual(electUnclean(state({}), view([1, 2, 3])), { ok: false, reason: 'ELECTION_NOT_NEEDED' });
  assert.deepEqual(electUnclean(state({ leader: -1, isr: [1] }), view([])), { ok: false, reason: 'ELIGIBLE_LEADERS_NOT_AVAILABLE' });
  const unclean = electUnclean(state({ leader: -1, isr: [1] }), view([3]));
  assert.deepEqual(unclean, { ok: true, change: { isr: [3], leader: 3, bumpLeaderEpoch: true } });
  assert.equal(reconcile(state({}), view([1, 2, 3]), false), null, 'a healthy partition needs no change');
});

test('preferred-leader balancing moves leadership back when a broker leads too few of its preferred partitions', async (t) => {
  const { metadata, controller, partition } = await setup(t, { brokers: [1, 2] });
  await metadata.createTopic({ name: 'b', partitions: [
    { replicas: [1, 2], leader: 2, isr: [1, 2] },
    { replicas: [2, 1], leader: 2, isr: [1, 2] },
  ] });
  await controller.checkLeaderBalance();
  assert.equal(partition('b', 0).leader, 1);
  assert.equal(partition('b', 0).leaderEpoch, 1);
  assert.equal(partition('b', 1).leaderEpoch, 0);
});

test('preferred-leader balancing: off with auto.leader.rebalance.enable=false, and within leader.imbalance.per.broker.percentage', async (t) => {
  const off = await setup(t, { brokers: [1, 2], config: { 'auto.leader.rebalance.enable': false } });
  await off.metadata.createTopic({ name: 'b', partitions: [{ replicas: [1, 2], leader: 2, isr: [1, 2] }] });
  await off.controller.checkLeaderBalance();
  assert.equal(off.partition('b').leader, 2);
  const tolerant = await setup(t, { brokers: [1, 2], config: { 'leader.imbalance.per.broker.percentage': 50 } });
  await tolerant.metadata.createTopic({ name: 'b', partitions: [
    { replicas: [1, 2], leader: 2, isr: [1, 2] },
    { replicas: [1, 2], leader: 1, isr: [1, 2] },
  ] });
  await tolerant.controller.checkLeaderBalance();
  assert.equal(tolerant.partition('b', 0).leader, 2, '1 of 2 = 50% is not above 50%');
});

test('a stale partition epoch is retried from the new state, not overwritten', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'a', partitions: [{ replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3] }] });
  // A leader's ISR change lands between the controller's read and its write.
  const original = metadata.updatePartition.bind(metadata);
  let raced = false;
  metadata.updatePartition = async (change) => {
    if (!raced) {
      raced = true;
      const current = partition('a');
      await original({ topic: 'a', partition: 0, expectedPartitionEpoch: current.partitionEpoch, isr: [1, 3] });
    }
    return original(change);
  };
  await metadata.unregisterBroker(1);
  await controller.idle();
  assert.equal(partition('a').leader, 3, 'recomputed from the ISR [1,3]: 2 is no longer in sync');
  assert.deepEqual(partition('a').isr, [3]);
});

test('the local store names its longest-registered broker controller, also across a controlled-shutdown re-registration', async (t) => {
  const { metadata } = await setup(t, { brokers: [2, 1] });
  assert.equal(metadata.controllerId(), 2);
  await metadata.registerBroker(broker(2, { inControlledShutdown: true }));
  assert.equal(metadata.controllerId(), 2);
  await metadata.unregisterBroker(2);
  assert.equal(metadata.controllerId(), 1);
});

test('a new controller gives brokers absent at its start broker.session.timeout.ms to register before failing them over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-controller-'));
  const metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  t.after(async () => { await metadata.close(); rmSync(dir, { recursive: true, force: true }); });
  await metadata.createTopic({ name: 'a', partitions: [
    { replicas: [2, 1], leader: 2, isr: [2, 1] },
    { replicas: [3, 1], leader: 3, isr: [3, 1] },
  ] });
  await metadata.registerBroker(broker(1));
  const config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir }]);
  const scheduler = new ManualScheduler();
  const controller = new Controller({ metadata, nodeId: 1, config: () => config, logger: silentLogger, scheduler });
  controller.start();
  t.after(() => controller.stop());
  await controller.idle();
  assert.equal(metadata.topic('a')!.partitions[0]!.leader, 2, 'broker 2 may still be coming up');
  await metadata.registerBroker(broker(2));
  scheduler.advance(8_999);
  await controller.idle();
  assert.equal(metadata.topic('a')!.partitions[1]!.leader, 3, 'broker 3 still has time (broker.session.timeout.ms, 9000 by default)');
  scheduler.advance(1);
  await controller.idle();
  // It registered in time, as a new incarnation (it was absent at the controller's start):
  // fenced as Kafka's controller fences one, out of the ISR and no longer leader, in a new
  // leader epoch; it rejoins the ISR by catching up (and leads again by preferred election).
  assert.deepEqual(metadata.topic('a')!.partitions[0]!.isr, [1], 'it registered in time, and was fenced');
  assert.equal(metadata.topic('a')!.partitions[0]!.leader, 1);
  assert.equal(metadata.topic('a')!.partitions[0]!.leaderEpoch, 1);
  assert.equal(metadata.topic('a')!.partitions[1]!.leader, 1, 'broker 3 did not: failed over after the grace period');
  assert.deepEqual(metadata.topic('a')!.partitions[1]!.isr, [1]);
});

test('controlledShutdown (the closing broker): done once the controller moved what it could; bounded without a controller or a reachable store', async (t) => {
  const { metadata, controller, partition } = await setup(t);
  await metadata.createTopic({ name: 'a', partitions: [{ replicas: [2, 1], leader: 2, isr: [2, 1] }, { replicas: [2, 3], leader: 2, isr: [2] }] });
  assert.equal(controlledShutdownPending(metadata, 2), 1, 'only partition 0 has another in-sync replica');
  const startedAt = Date.now();
  assert.equal(await controlledShutdown(metadata, broker(2), silentLogger, 5000), 0);
  assert.ok(Date.now() - startedAt < 2000);
  assert.equal(partition('a', 0).leader, 1);
  assert.equal(partition('a', 1).leader, 2, 'the sole in-sync replica keeps leading');

  // No controller: the wait ends at its bound with the partitions still pending.
  controller.stop();
  await metadata.createTopic({ name: 'b', partitions: [{ replicas: [3, 1], leader: 3, isr: [3, 1] }] });
  assert.equal(await controlledShutdown(metadata, broker(3), silentLogger, 100), 1);
  // A store that never answers: bounded as well.
  await metadata.registerBroker(broker(4));
  await metadata.createTopic({ name: 'c', partitions: [{ replicas: [1, 4], leader: 1, isr: [1, 4] }] });
  const stuck = Object.create(metadata) as typeof metadata;
  stuck.registerBroker = () => new Promise(() => undefined);
  assert.equal(await controlledShutdown(stuck, broker(1), silentLogger, 100), 1);
});

test('the local store keeps reassignment state across a restart and reads records written before it existed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-controller-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clusterId = 'AAAAAAAAAAAAAAAAAAAAAQ';
  let metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId });
  await metadata.createTopic({ name: 'old', partitions: [{ replicas: [1, 2], leader: 1, isr: [1, 2] }] });
  await metadata.createTopic({ name: 'moving', partitions: [{ replicas: [1, 2], leader: 1, isr: [1, 2] }] });
  await metadata.updatePartition({ topic: 'old', partition: 0, expectedPartitionEpoch: 0, isr: [1] });
  const start = startReassignment(metadata.topic('moving')!.partitions[0]!, [3, 2], view([1, 2, 3]), false)!;
  await metadata.updatePartition({ topic: 'moving', partition: 0, expectedPartitionEpoch: 0, ...start });
  await metadata.close();
  metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId });
  t.after(() => metadata.close());
  const old = metadata.topic('old')!.partitions[0]!;
  assert.deepEqual(old.isr, [1]);
  assert.equal(old.addingReplicas, undefined, 'a record without the fields reads as no reassignment');
  const moving = metadata.topic('moving')!.partitions[0]!;
  assert.deepEqual(moving.replicas, [3, 2, 1]);
  assert.deepEqual(moving.addingReplicas, [3]);
  assert.deepEqual(moving.removingReplicas, [1]);
});

test('auto.leader.rebalance.enable: the check runs every leader.imbalance.check.interval.seconds by itself', async (t) => {
  const scheduler = new ManualScheduler();
  const { metadata, controller, partition } = await setup(t, { brokers: [1, 2], config: { 'leader.imbalance.check.interval.seconds': 30 }, scheduler });
  await metadata.createTopic({ name: 'b', partitions: [{ replicas: [1, 2], leader: 2, isr: [1, 2] }] });
  scheduler.advance(29_999);
  await controller.idle();
  assert.equal(partition('b').leader, 2);
  scheduler.advance(1);
  await controller.idle();
  assert.equal(partition('b').leader, 1);
  // And again an interval later.
  await metadata.updatePartition({ topic: 'b', partition: 0, expectedPartitionEpoch: partition('b').partitionEpoch, leader: 2, bumpLeaderEpoch: true });
  scheduler.advance(30_000);
  await controller.idle();
  assert.equal(partition('b').leader, 1);
});

test('storeMembership: runControllerDuties runs the duties only while the store names this broker, also when the name changes without an event', async (t) => {
  const { metadata } = await setup(t, { brokers: [1, 2] });
  let named = 1;
  const store = Object.create(metadata) as typeof metadata;
  store.controllerId = () => named;
  let running = false;
  const stop = runControllerDuties(storeMembership(store, 2), { start: () => { running = true; }, stop: () => { running = false; } });
  t.after(stop);
  assert.equal(running, false);
  named = 2;
  const deadline = Date.now() + CONTROLLER_CHECK_INTERVAL_MS * 5;
  while (!running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(running, true);
  named = 1;
  await metadata.registerBroker(broker(3)); // any change event: re-evaluated at once
  await new Promise((r) => setImmediate(r));
  assert.equal(running, false);
  stop();
  named = 2;
  await metadata.registerBroker(broker(4));
  await new Promise((r) => setImmediate(r));
  assert.equal(running, false, 'stopped for good');
});

test('a new incarnation is fenced: out of every ISR, and what it led gets a new leader epoch (even when elected again); the same incarnation is not', async (t) => {
  const { metadata, controller, partition } = await setup(t, { brokers: [] });
  for (const id of [1, 2, 3]) await metadata.registerBroker(broker(id, { incarnationId: `first-${id}` }));
  await controller.idle();
  await metadata.createTopic({ name: 'a', partitions: [
    { replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3] },
    { replicas: [2, 1, 3], leader: 2, isr: [2, 1, 3] },
    { replicas: [1, 2], leader: 1, isr: [1] },
  ] });
  // Registered again under the same incarnation (a controlled-shutdown flag, a re-put): nothing.
  await metadata.registerBroker(broker(1, { incarnationId: 'first-1' }));
  await controller.idle();
  assert.deepEqual([partition('a', 0).leader, partition('a', 0).leaderEpoch, partition('a', 0).partitionEpoch], [1, 0, 0]);
  // Broker 1 restarted before its old registration was gone (no unregistration seen).
  await metadata.registerBroker(broker(1, { incarnationId: 'second-1' }));
  await controller.idle();
  assert.deepEqual([partition('a', 0).leader, partition('a', 0).leaderEpoch, partition('a', 0).isr], [2, 1, [2, 3]], 'leadership moved to the next ISR member');
  assert.deepEqual([partition('a', 1).leader, partition('a', 1).leaderEpoch, partition('a', 1).isr], [2, 0, [2, 3]], 'a partition it followed: out of the ISR, leader and epoch kept');
  assert.deepEqual([partition('a', 2).leader, partition('a', 2).leaderEpoch, partition('a', 2).isr], [1, 1, [1]], 'the last ISR member leads again, in a new epoch');
  // Unregistered and registered again before the controller ran (the etcd watch delivers both at once).
  const before = partition('a', 2).leaderEpoch;
  void metadata.unregisterBroker(1);
  void metadata.registerBroker(broker(1, { incarnationId: 'third-1' }));
  await controller.idle();
  assert.equal(partition('a', 2).leader, 1);
  assert.ok(partition('a', 2).leaderEpoch > before, `epoch ${partition('a', 2).leaderEpoch} after ${before}`);
});

test('a controller taking over within the start-up grace fails over at once a broker its own broker saw leave (not a cold start)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-controller-'));
  const metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  t.after(async () => { await metadata.close(); rmSync(dir, { recursive: true, force: true }); });
  await metadata.createTopic({ name: 'a', partitions: [
    { replicas: [2, 1], leader: 2, isr: [2, 1] },
    { replicas: [3, 1], leader: 3, isr: [3, 1] },
  ] });
  await metadata.registerBroker(broker(1));
  await metadata.registerBroker(broker(2));
  const config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir }]);
  const scheduler = new ManualScheduler();
  // Created with its broker; broker 2 (the old controller, say) dies before this one takes over.
  const controller = new Controller({ metadata, nodeId: 1, config: () => config, logger: silentLogger, scheduler });
  await metadata.unregisterBroker(2);
  scheduler.advance(1000);
  controller.start();
  t.after(() => controller.stop());
  await controller.idle();
  assert.deepEqual([metadata.topic('a')!.partitions[0]!.leader, metadata.topic('a')!.partitions[0]!.isr], [1, [1]], 'broker 2 was seen leaving: failed over at once');
  assert.equal(metadata.topic('a')!.partitions[1]!.leader, 3, 'broker 3 was never seen (a cold start): it has the grace');
});
