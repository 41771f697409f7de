// EtcdMetadataStore against a real etcd started by the test on free loopback ports: the
// shared MetadataStore contract, two stores seeing each other by watch, CAS between stores,
// the cluster id created once, lease-loss fencing, controller election, a 3-member etcd
// losing its leader, and quorum loss (writes fail clearly, reads answer, writes resume).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdMetadataStore } from '../src/metadata/etcd-metadata-store.js';
import type { EtcdMetadataStoreOptions } from '../src/metadata/etcd-metadata-store.js';
import { MetadataError } from '../src/metadata/metadata-store.js';
import type { BrokerRegistration } from '../src/metadata/metadata-store.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { runControllerDuties } from '../src/metadata/controller-election.js';
import { metadataContract } from './metadata-contract.js';
import { startEtcd, startProxy } from '../../../test/cluster/etcd-kit.js';

/** A closed store leaves at most one watch reconnect attempt (<= 1 s) pending; the rest is slack for a loaded machine. */
const EXIT_AFTER_CLOSE_MAX_MS = 5000;

const p = (replicas: number[]) => ({ replicas, leader: replicas[0]!, isr: replicas });
const reg = (nodeId: number): BrokerRegistration => ({ nodeId, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' }], rack: null });

async function openStore(t: TestContext, endpoints: string[], prefix: string, extra: Partial<EtcdMetadataStoreOptions> = {}): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.open({
    endpoints, prefix, proposedClusterId: randomKafkaUuid(),
    sessionTimeoutMs: 2000, fenceMarginMs: 500, requestTimeoutMs: 3000, ...extra,
  });
  t.after(() => store.close());
  return store;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

metadataContract('EtcdMetadataStore', async (t) => {
  const etcd = await startEtcd(t);
  return openStore(t, etcd.endpoints, '/contract');
});

test('two stores on one etcd see each other\'s writes by watch, and CAS refuses the stale one', async (t) => {
  const etcd = await startEtcd(t);
  const a = await openStore(t, etcd.endpoints, '/two');
  const b = await openStore(t, etcd.endpoints, '/two');
  assert.equal(a.clusterId, b.clusterId, 'the cluster id is created once');
  const seenByB: string[] = [];
  b.subscribe((c) => seenByB.push(c.type));
  const topic = await a.createTopic({ name: 'shared', partitions: [p([1, 2]), p([2, 1])], configs: { 'retention.ms': '1' } });
  await until('b sees the topic', () => b.topic('shared') !== undefined);
  assert.deepEqual(b.topic('shared'), topic);
  await b.updatePartition({ topic: 'shared', partition: 0, expectedPartitionEpoch: 0, isr: [1] });
  await until('a sees the change', () => a.topic('shared')!.partitions[0]!.partitionEpoch === 1);
  // a's cache is current, but a writer that read epoch 0 loses.
  await assert.rejects(a.updatePartition({ topic: 'shared', partition: 0, expectedPartitionEpoch: 0, isr: [2] }),
    (e: unknown) => e instanceof MetadataError && e.code === 'TRIB_ERR_STALE_PARTITION_EPOCH');
  // Racing writers from two stores at the same epoch: exactly one wins.
  const race = await Promise.allSettled([
    a.updatePartition({ topic: 'shared', partition: 1, expectedPartitionEpoch: 0, isr: [2] }),
    b.updatePartition({ topic: 'shared', partition: 1, expectedPartitionEpoch: 0, leader: 1, isr: [1], bumpLeaderEpoch: true }),
  ]);
  assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(race.map((r) => r.status)));
  await assert.rejects(b.createTopic({ name: 'shared', partitions: [p([1])] }), (e: unknown) => e instanceof MetadataError && e.code === 'TRIB_ERR_TOPIC_EXISTS');
  await a.alterBrokerConfigs(null, { 'num.partitions': '4' });
  await until('b sees the broker config', () => b.brokerConfigs(null)['num.partitions'] === '4');
  await b.deleteTopic('shared');
  await until('a sees the deletion', () => a.topic('shared') === undefined);
  assert.ok(seenByB.includes('topic-created') && seenByB.includes('broker-config-changed') && seenByB.includes('topic-deleted'), seenByB.join());

  // A topic of many partitions is still created in one txn (etcd started with --max-txn-ops raised).
  await a.createTopic({ name: 'wide', partitions: Array.from({ length: 500 }, () => p([1])) });
  await until('b sees 500 partitions', () => b.topic('wide')?.partitions.length === 500);
  // A store opened later loads everything.
  const c = await openStore(t, etcd.endpoints, '/two');
  assert.equal(c.topic('wide')!.partitions.length, 500);
  assert.deepEqual(c.brokerConfigs(null), { 'num.partitions': '4' });
});

test('a broker whose keepalives stop is fenced before the others see its lease expire, then registers again', async (t) => {
  const etcd = await startEtcd(t);
  const proxy = await startProxy(t, etcd.endpoints[0]!);
  const a = await openStore(t, [proxy.url], '/fence', { sessionTimeoutMs: 2000, fenceMarginMs: 700 });
  const b = await openStore(t, etcd.endpoints, '/fence');
  await a.registerBroker(reg(1));
  await b.registerBroker(reg(2));
  await until('both see both brokers', () => a.brokers().length === 2 && b.brokers().length === 2);
  await b.createTopic({ name: 'fenced-writes', partitions: [p([1, 2])] });
  await until('a sees the topic', () => a.topic('fenced-writes') !== undefined);
  let fencedAt = 0;
  let unregisteredAt = 0;
  const fencedValues: boolean[] = [];
  a.onFencedChange((f) => { fencedValues.push(f); if (f) fencedAt = performance.now(); });
  b.subscribe((c) => { if (c.type === 'broker-unregistered' && c.nodeId === 1 && unregisteredAt === 0) unregisteredAt = performance.now(); });
  // A network partition between broker 1 and etcd: its keepalives stop arriving.
  proxy.cut();
  await until('b sees broker 1 unregistered', () => unregisteredAt !== 0, 10_000);
  assert.ok(fencedAt !== 0, 'a was fenced');
  assert.ok(fencedAt < unregisteredAt, `fenced ${Math.round(unregisteredAt - fencedAt)} ms before the others saw the expiry`);
  assert.equal(fencedValues[0], true);
  assert.ok(a.brokers().some((x) => x.nodeId === 1), 'cut off, a still answers reads from its cache');
  // Fenced, it makes no partition changes (no ISR shrink/expand): refused at once, not after a timeout.
  const refusedAt = performance.now();
  await assert.rejects(a.updatePartition({ topic: 'fenced-writes', partition: 0, expectedPartitionEpoch: a.topic('fenced-writes')!.partitions[0]!.partitionEpoch, isr: [1] }),
    (e: unknown) => e instanceof MetadataError && e.code === 'TRIB_ERR_UNAVAILABLE' && /fenced/.test(e.message));
  assert.ok(performance.now() - refusedAt < 1000, 'refused without asking etcd');
  proxy.heal();
  await until('a registers again and is unfenced', () => !a.fenced && b.brokers().some((x) => x.nodeId === 1), 10_000);
  assert.deepEqual(fencedValues, [true, false]);
});

test('a paused broker process loses its registration on the other broker (SIGSTOP on a child)', async (t) => {
  const etcd = await startEtcd(t);
  const b = await openStore(t, etcd.endpoints, '/stop');
  const { spawn } = await import('node:child_process');
  const script = `
    import { EtcdMetadataStore } from ${JSON.stringify(new URL('../src/metadata/etcd-metadata-store.ts', import.meta.url).pathname)};
    const s = await EtcdMetadataStore.open({ endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: '/stop', proposedClusterId: 'q1Sh-9_ISia_zwGINzRvyQ', sessionTimeoutMs: 2000, fenceMarginMs: 500, requestTimeoutMs: 3000 });
    s.onFencedChange((f) => console.log('fenced ' + f));
    await s.registerBroker({ nodeId: 5, endpoints: [], rack: null });
    console.log('registered');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { child.kill('SIGCONT'); child.kill('SIGKILL'); });
  let out = '';
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('registered')) res(); });
    child.once('exit', (code) => rej(new Error(`child exited ${code}`)));
  });
  await until('b sees broker 5', () => b.brokers().some((x) => x.nodeId === 5));
  child.kill('SIGSTOP');
  const stoppedAt = performance.now();
  await until('b sees broker 5 gone', () => !b.brokers().some((x) => x.nodeId === 5), 10_000);
  const goneAfterMs = performance.now() - stoppedAt;
  assert.ok(goneAfterMs < 6000, `gone after ${Math.round(goneAfterMs)} ms`);
  child.kill('SIGCONT');
  await until('broker 5 registers again after SIGCONT', () => b.brokers().some((x) => x.nodeId === 5), 10_000);
  // Woken up, it first found itself fenced (its lease had expired), then registered anew.
  await until('the child reports fenced, then unfenced', () => out.includes('fenced false'));
  assert.ok(out.indexOf('fenced true') !== -1 && out.indexOf('fenced true') < out.indexOf('fenced false'), out);
});

test('closed after its etcd was killed, the store lets its process exit by itself (no reconnect timer left behind)', async (t) => {
  const etcd = await startEtcd(t);
  const { spawn } = await import('node:child_process');
  // The child's only reason to live is the interval, cleared when it closes the store.
  const script = `
    import { EtcdMetadataStore } from ${JSON.stringify(new URL('../src/metadata/etcd-metadata-store.ts', import.meta.url).pathname)};
    const s = await EtcdMetadataStore.open({ endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: '/exit', proposedClusterId: 'q1Sh-9_ISia_zwGINzRvyQ', sessionTimeoutMs: 6000, fenceMarginMs: 1000, requestTimeoutMs: 3000 });
    await s.registerBroker({ nodeId: 7, endpoints: [], rack: null });
    await s.createTopic({ name: 't', partitions: [{ replicas: [7], leader: 7, isr: [7] }] });
    const alive = setInterval(() => {}, 1000);
    process.once('SIGUSR2', () => { clearInterval(alive); void s.close().then(() => console.log('closed')); });
    console.log('ready');`;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { child.kill('SIGKILL'); });
  let out = '';
  let closedAt = 0;
  const exited = new Promise<number>((res) => child.once('exit', () => res(performance.now())));
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (closedAt === 0 && out.includes('closed')) closedAt = performance.now();
      if (out.includes('ready')) res();
    });
    void exited.then(() => rej(new Error(`child exited before it was ready: ${out}`)));
  });
  await etcd.kill(0);
  // Long enough for the watch to fail and etcd3 to back off its reconnects (up to 30 s by default).
  await new Promise((r) => setTimeout(r, 4000));
  child.kill('SIGUSR2');
  const exitedAt = await Promise.race([exited, new Promise<number>((res) => setTimeout(() => res(-1), EXIT_AFTER_CLOSE_MAX_MS + 10_000).unref())]);
  assert.notEqual(closedAt, 0, `the child closed its store: ${out}`);
  assert.notEqual(exitedAt, -1, 'the child exits by itself once its store is closed');
  assert.ok(exitedAt - closedAt < EXIT_AFTER_CLOSE_MAX_MS, `exited ${Math.round(exitedAt - closedAt)} ms after close`);
});

test('one controller at a time; the election moves when the controller closes, and when it dies', async (t) => {
  const etcd = await startEtcd(t);
  const proxies = [await startProxy(t, etcd.endpoints[0]!), await startProxy(t, etcd.endpoints[0]!), await startProxy(t, etcd.endpoints[0]!)];
  const stores = [
    await openStore(t, [proxies[0]!.url], '/elect'),
    await openStore(t, [proxies[1]!.url], '/elect'),
    await openStore(t, [proxies[2]!.url], '/elect'),
  ];
  const running = new Set<number>();
  stores.forEach((s, i) => {
    const nodeId = i + 1;
    runControllerDuties(s, { start: () => running.add(nodeId), stop: () => running.delete(nodeId) });
  });
  for (const [i, s] of stores.entries()) await s.registerBroker(reg(i + 1));
  await until('a controller is elected and known everywhere', () => stores.every((s) => s.controllerId() !== -1 && s.controllerId() === stores[0]!.controllerId()));
  const first = stores[0]!.controllerId();
  assert.deepEqual([...running], [first]);
  assert.equal(stores.filter((s) => s.isController).length, 1);
  // Clean close: resigns at once.
  await stores[first - 1]!.close();
  const rest = stores.filter((_, i) => i !== first - 1);
  await until('another controller', () => rest.every((s) => s.controllerId() !== -1 && s.controllerId() !== first && s.controllerId() === rest[0]!.controllerId()), 5000);
  const second = rest[0]!.controllerId();
  await until('duties moved', () => running.size === 1 && running.has(second));
  // Death as the others see it: cut off from etcd, its lease expires (2 s session), and the
  // cut-off broker itself is fenced, so its duties stop too.
  const dying = stores[second - 1]!;
  proxies[second - 1]!.cut();
  const survivor = rest.find((s) => s !== dying)!;
  await until('the survivor becomes controller', () => survivor.isController, 10_000);
  await until('duties moved to the survivor only', () => running.size === 1 && running.has(survivor === stores[0] ? 1 : survivor === stores[1] ? 2 : 3), 5000);
});

test('a 3-member etcd keeps serving after its leader is killed; without quorum writes fail clearly, reads answer, writes resume', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  const a = await openStore(t, etcd.endpoints, '/q', { sessionTimeoutMs: 9000, fenceMarginMs: 2000, requestTimeoutMs: 3000 });
  const b = await openStore(t, etcd.endpoints, '/q', { sessionTimeoutMs: 9000, fenceMarginMs: 2000, requestTimeoutMs: 3000 });
  await a.registerBroker(reg(1));
  await a.createTopic({ name: 'q', partitions: [p([1])] });
  const leader = await etcd.leaderIndex();
  assert.ok(leader >= 0);
  await etcd.kill(leader);
  // Writes succeed again once a new leader is elected (a few seconds at default timings).
  const deadline = Date.now() + 20_000;
  let epoch = 0;
  for (;;) {
    try {
      epoch = (await a.updatePartition({ topic: 'q', partition: 0, expectedPartitionEpoch: epoch, bumpLeaderEpoch: true })).partitionEpoch;
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      epoch = a.topic('q')!.partitions[0]!.partitionEpoch;
    }
  }
  await until('b sees the write made after the leader died', () => b.topic('q')!.partitions[0]!.partitionEpoch === epoch);
  assert.equal(a.fenced, false, 'a leader change does not fence a broker');

  // Lose quorum: one of the two remaining members dies.
  const alive = [0, 1, 2].filter((i) => i !== leader);
  await etcd.kill(alive[0]!);
  const started = performance.now();
  await assert.rejects(a.createTopic({ name: 'no-quorum', partitions: [p([1])] }),
    (e: unknown) => e instanceof MetadataError && e.code === 'TRIB_ERR_UNAVAILABLE' && e.kafkaErrorCode === 7 && /etcd/.test(e.message));
  assert.ok(performance.now() - started < 6000, 'the failure comes within the request timeout');
  assert.equal(a.topic('q')!.partitions[0]!.partitionEpoch, epoch, 'reads answer from the cache');
  assert.equal(b.topics().length, 1);

  // Quorum returns: writes resume.
  await etcd.restart(alive[0]!);
  const resumeDeadline = Date.now() + 20_000;
  for (;;) {
    try {
      await a.createTopic({ name: 'after-quorum', partitions: [p([1])] });
      break;
    } catch (err) {
      if (a.topic('after-quorum')) break; // the timed-out attempt committed after all
      if (Date.now() > resumeDeadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await until('b sees the topic written after quorum returned', () => b.topic('after-quorum') !== undefined);
});

/**
 * gRPC keepalive declares the paused member's connection dead after 5 + 2 s; the watch then
 * reconnects to a random member, which may be the paused one again (its kernel still
 * accepts connections), where the store's watchdog finds it stalled within two 5 s checks
 * and recreates it on a fresh client: 7 + 10 s, and slack for a loaded machine.
 */
const PAUSED_MEMBER_RECOVERY_MS = 30_000;

test('a paused (SIGSTOPped-like) etcd member does not freeze the watch: gRPC keepalive, else the watchdog, moves it to another member', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  // Each member behind a proxy that can black-hole its bytes, which is what a SIGSTOPped
  // member looks like from the client (the kernel keeps the TCP connection open).
  const proxies = [];
  for (const url of etcd.endpoints) proxies.push(await startProxy(t, url));
  const a = await openStore(t, proxies.map((x) => x.url), '/pause', { sessionTimeoutMs: 30_000, fenceMarginMs: 5000 });
  const b = await openStore(t, etcd.endpoints, '/pause');
  await b.createTopic({ name: 'p', partitions: [p([1])] });
  await until('a sees the topic', () => a.topic('p') !== undefined);
  // Whichever member carries a's watch, one of the three rounds pauses it.
  let epoch = 0;
  for (const proxy of proxies) {
    proxy.cut();
    const started = performance.now();
    epoch = (await b.updatePartition({ topic: 'p', partition: 0, expectedPartitionEpoch: epoch, bumpLeaderEpoch: true })).partitionEpoch;
    await until(`a sees epoch ${epoch} with one member paused`, () => a.topic('p')!.partitions[0]!.partitionEpoch === epoch, PAUSED_MEMBER_RECOVERY_MS);
    t.diagnostic(`seen after ${Math.round(performance.now() - started)} ms`);
    proxy.heal();
  }
});

test('malformed values under the prefix (written by anyone with etcd access) are ignored, never crash the store', async (t) => {
  const etcd = await startEtcd(t);
  const a = await openStore(t, etcd.endpoints, '/bad');
  await a.createTopic({ name: 'good', partitions: [p([1])] });
  const { Etcd3 } = await import('etcd3');
  const raw = new Etcd3({ hosts: etcd.endpoints });
  t.after(() => raw.close());
  await raw.put('/bad/topics/evil').value('{"topicId":"x","configs":null,"internal":false,"partitionCount":1}');
  await raw.put('/bad/partitions/evil/0').value('not json');
  await raw.put('/bad/topics/half').value(JSON.stringify({ topicId: randomKafkaUuid(), configs: {}, internal: false, partitionCount: 2 }));
  await raw.put('/bad/partitions/half/0').value(JSON.stringify({ partition: 0, replicas: [1], leader: 1, leaderEpoch: 0, isr: [1], partitionEpoch: 0 }));
  await raw.put('/bad/brokers/7').value('{"nodeId":"seven"}');
  await raw.put('/bad/broker-configs/default').value('[1,2]');
  await raw.put('/bad/controller').value('garbage');
  await raw.put('/bad/unknown-kind/x').value('?');
  // A valid write after the garbage is applied normally: the watch survived it.
  await a.alterTopicConfigs('good', { 'retention.ms': '5' });
  assert.deepEqual(a.topics().map((x) => x.name), ['good']);
  assert.deepEqual(a.brokers(), []);
  assert.deepEqual(a.brokerConfigs(null), {});
  assert.equal(a.controllerId(), -1);
  // And a store opened on top of it loads the same view.
  const b = await openStore(t, etcd.endpoints, '/bad');
  assert.deepEqual(b.topics().map((x) => x.name), ['good']);
  assert.equal(b.topic('good')!.configs['retention.ms'], '5');
});
