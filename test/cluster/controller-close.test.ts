// Closing the broker that holds the etcd controller election (issue #15): it resigns the
// election first, so another broker becomes controller and moves this broker's leaderships
// away during its controlled shutdown; before the fix it waited CONTROLLED_SHUTDOWN_WAIT_MS_MAX
// (30 s) for a controller that was itself. Brokers run in this process (startBroker) on one
// etcd, with the real Controller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, startBroker } from '@tributary/broker';
import type { RunningBroker } from '@tributary/broker';
import { startEtcd } from './etcd-kit.js';
import '../compat/kit.js';

const silent = createLogger({ level: (process.env['CT_LOG'] as 'info') ?? 'silent' });
/** The bound the issue sets for closing the controller broker (the controlled shutdown itself is milliseconds). */
const CONTROLLER_CLOSE_MS_MAX = 5000;

async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('close() of the controller broker resigns the election first: another broker moves its leaderships away, and close takes < 5 s', { timeout: 60_000 }, async (t) => {
  const etcd = await startEtcd(t);
  const brokers: RunningBroker[] = [];
  // Hooks run in registration order, so this one runs after etcd stopped: it only cleans up
  // after a failure; a passing test closes its brokers itself, etcd still up.
  t.after(async () => { for (const b of brokers) await b.close(); });
  for (const nodeId of [1, 2, 3]) {
    const dir = mkdtempSync(join(tmpdir(), 'trib-ctl-close-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await startBroker({
      dataDir: dir, port: 0, nodeId, logger: silent,
      // Kafka's default session (9 s): the bound here is the controlled shutdown's, not a
      // failover's, and three brokers in one loaded process must not miss keepalives and fence.
      config: { 'etcd.endpoints': etcd.endpoints.join(','), 'etcd.prefix': '/ctl-close',
        'broker.session.timeout.ms': 9000, 'etcd.lease.fence.margin.ms': 2000,
        'group.initial.rebalance.delay.ms': 0, 'offsets.topic.replication.factor': 3, 'broker.rack': `rack-${nodeId}` },
    });
    brokers.push(broker);
  }
  await until('one controller, known to all', () => brokers.every((b) => b.services.membership.controllerId() !== -1
    && b.services.membership.controllerId() === brokers[0]!.services.membership.controllerId()));
  const controllerId = brokers[0]!.services.membership.controllerId();
  const controller = brokers[controllerId - 1]!;
  const others = brokers.filter((b) => b !== controller);

  // The controller broker leads partitions of an RF=3 topic whose ISR is full.
  const kafka = new Kafka({ clientId: 'ctl-close', brokers: others.map((b) => `${b.host}:${b.port}`), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const replicas = (first: number) => [first, ...[1, 2, 3].filter((id) => id !== first)];
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'led', replicaAssignment: [0, 1, 2].map((p) => ({ partition: p, replicas: replicas(controllerId) })) }] });
  const watcher = others[0]!.services.metadata;
  await until('every ISR full', () => watcher.topic('led')!.partitions.every((p) => p.isr.length === 3 && p.leader === controllerId));

  // Watch, from another broker, when leadership leaves the closing broker and when it unregisters.
  let movedAtMs = -1;
  let unregisteredAtMs = -1;
  const off = watcher.subscribe((change) => {
    if (change.type === 'broker-unregistered' && change.nodeId === controllerId && unregisteredAtMs < 0) unregisteredAtMs = performance.now();
    if (movedAtMs < 0 && watcher.topic('led')!.partitions.every((p) => p.leader !== controllerId && p.leader !== -1)) movedAtMs = performance.now();
  });
  t.after(off);

  const startedAtMs = performance.now();
  await controller.close();
  const closeMs = performance.now() - startedAtMs;
  t.diagnostic(`close of controller broker ${controllerId}: ${Math.round(closeMs)} ms; leadership moved after ${Math.round(movedAtMs - startedAtMs)} ms, unregistered after ${Math.round(unregisteredAtMs - startedAtMs)} ms`);
  assert.ok(closeMs < CONTROLLER_CLOSE_MS_MAX, `close() took ${Math.round(closeMs)} ms (bound ${CONTROLLER_CLOSE_MS_MAX} ms)`);
  assert.ok(movedAtMs > 0, 'every partition got another leader');
  assert.ok(unregisteredAtMs < 0 || movedAtMs < unregisteredAtMs, 'leadership moved while the broker was still registered (controlled shutdown, not failover)');
  await until('a new controller among the others', () => others.every((b) => b.services.membership.controllerId() !== -1 && b.services.membership.controllerId() !== controllerId));
  for (const p of watcher.topic('led')!.partitions) assert.deepEqual([...p.isr].sort(), others.map((b) => b.nodeId).sort(), `partition ${p.partition}: the closed broker left the ISR`);
  for (const b of others) await b.close();
});
