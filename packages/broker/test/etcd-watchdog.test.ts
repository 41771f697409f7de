// The etcd store's watchdog (checkWatch) against a real etcd, with its check interval
// shortened so two checks take a fraction of a second. It once asked etcd for a count of the
// keys changed after the applied revision; etcd ignores min_mod_revision in a count_only
// range, so that count was every key under the prefix, and a quiet cluster was declared
// "stalled" every 10 s on every broker, its watch recreated on a fresh client each time,
// with appliedRevision never moving (nothing was missing).
// This file's process must end by itself after its tests: a store closed while its watch was
// being recreated once left that watch attached to etcd3's watch manager, which retried it
// every second for ever on its closed client, and held the suite's lane (the third test).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdMetadataStore } from '../src/metadata/etcd-metadata-store.js';
import type { EtcdMetadataStoreOptions } from '../src/metadata/etcd-metadata-store.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { createLogger } from '../src/logger.js';
import { startEtcd } from '../../../test/cluster/etcd-kit.js';

/** The shortened watchdog interval: a stall is declared after two checks. */
const CHECK_MS = 100;
/** Enough checks for the old watchdog to have cried wolf several times. */
const QUIET_MS = 15 * CHECK_MS;
const STALLED = 'The etcd watch is stalled';

const p = (replicas: number[]) => ({ replicas, leader: replicas[0]!, isr: replicas });

async function openStore(t: TestContext, endpoints: string[], prefix: string, extra: Partial<EtcdMetadataStoreOptions> = {}): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.open({
    endpoints, prefix, proposedClusterId: randomKafkaUuid(),
    sessionTimeoutMs: 5000, fenceMarginMs: 1000, requestTimeoutMs: 3000, ...extra,
  });
  t.after(() => store.close());
  return store;
}

function capture(): { lines: string[]; options: Partial<EtcdMetadataStoreOptions> } {
  const lines: string[] = [];
  return { lines, options: { logger: createLogger({ level: 'info', sink: (line) => lines.push(line) }), watchStallCheckMs: CHECK_MS } };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a quiet cluster is not a stalled watch: keys older than the applied revision are not counted as undelivered', async (t) => {
  const etcd = await startEtcd(t);
  const log = capture();
  const store = await openStore(t, etcd.endpoints, '/quiet', log.options);
  // Many keys under the prefix (the topic, its id, its partitions), all already applied;
  // and a write outside the prefix, which moves etcd's revision but not the watch's.
  await store.createTopic({ name: 'quiet', partitions: [p([1]), p([1]), p([1])] });
  await store.registerBroker({ nodeId: 1, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9001, securityProtocol: 'PLAINTEXT' }], rack: null });
  const other = await openStore(t, etcd.endpoints, '/elsewhere');
  await other.createTopic({ name: 'elsewhere', partitions: [p([1])] });
  await new Promise((r) => setTimeout(r, QUIET_MS));
  assert.deepEqual(log.lines.filter((l) => l.includes(STALLED)), []);
  assert.ok(store.topic('quiet'));
});

test('a watch that really stops delivering is still found stalled and recreated, and the cache catches up', async (t) => {
  const etcd = await startEtcd(t);
  const log = capture();
  const store = await openStore(t, etcd.endpoints, '/stuck', log.options);
  const writer = await openStore(t, etcd.endpoints, '/stuck');
  await writer.createTopic({ name: 'before', partitions: [p([1])] });
  await until('the store sees the first topic', () => store.topic('before') !== undefined);
  // What a stalled stream looks like from the store: no more 'data'. The store drops the
  // responses of any watcher other than its current one, so a stand-in silences the real one.
  const internals = store as unknown as { watcher: { cancel(): Promise<void> } | null };
  const real = internals.watcher!;
  internals.watcher = { cancel: () => real.cancel() };
  await writer.createTopic({ name: 'after', partitions: [p([1])] });
  await until('the watchdog recreates the watch and the store sees the second topic', () => store.topic('after') !== undefined);
  assert.equal(log.lines.filter((l) => l.includes(STALLED)).length, 1, log.lines.join('\n'));
  assert.match(log.lines.find((l) => l.includes(STALLED))!, /changedKeys=3/); // topic, topic id, partition
});

test('a store closed while its watch is being recreated cancels that watch: nothing keeps reconnecting it', async (t) => {
  const etcd = await startEtcd(t);
  const store = await openStore(t, etcd.endpoints, '/closing', { watchStallCheckMs: 60_000 });
  // The watchdog recreates a stalled watch on a fresh client; this one reaches no etcd (port 1
  // refuses), so the new watch stays "being created" for as long as the test needs: the
  // window in which close() once found no current watcher to cancel, and left this one
  // attached to etcd3's watch manager, which retried it every second for ever after the
  // client was closed (the process never exited).
  const fresh: Etcd3[] = [];
  const internals = store as unknown as { newClient: () => Etcd3; reload(freshClient: boolean): Promise<void> };
  internals.newClient = () => {
    const client = new Etcd3({ hosts: ['127.0.0.1:1'], dialTimeout: 500 });
    fresh.push(client);
    return client;
  };
  type Manager = { watchers: unknown[] };
  const attached = (client: Etcd3) => (client as unknown as { watchManager: Manager }).watchManager.watchers.length;
  const reloading = internals.reload(true);
  await until('the recreated watch is attached to the fresh client', () => fresh.length === 1 && attached(fresh[0]!) === 1);
  await store.close();
  await reloading; // ends with the store, not after a request timeout
  assert.equal(attached(fresh[0]!), 0, 'the watch being created is still attached after close()');
  // Past a reconnect attempt (etcd3 retries within WATCH_RECONNECT_DELAY_MAX_MS): still none.
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(attached(fresh[0]!), 0);
});
