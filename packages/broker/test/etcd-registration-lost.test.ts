// A broker's etcd registration must not end while the broker believes itself registered.
// Seed 1202 of the fault suite (docs/reliability.md): broker 2, fenced, granted a new lease
// and waited for its previous registration to expire while etcd had no quorum; etcd3 then
// declared the new lease lost (no keepalive answered for 2 TTLs) and stopped renewing it,
// the store ignored that because it was fenced already, put its registration under that
// lease anyway and called itself registered. etcd expired the lease a TTL later: the other
// brokers saw broker 2 gone, the controller took it out of every ISR and the leaders never
// added it back (not registered), while broker 2 fetched on for 80 s without registering again.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdMetadataStore } from '../src/metadata/etcd-metadata-store.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { startEtcd } from '../../../test/cluster/etcd-kit.js';

/** A 2 s lease (TTL), fenced 0.5 s before it could expire: the test waits out a few TTLs. */
const SESSION_TIMEOUT_MS = 2000;
const FENCE_MARGIN_MS = 500;

async function openStore(t: TestContext, endpoints: string[], prefix: string): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.open({
    endpoints, prefix, proposedClusterId: randomKafkaUuid(),
    sessionTimeoutMs: SESSION_TIMEOUT_MS, fenceMarginMs: FENCE_MARGIN_MS, requestTimeoutMs: 3000,
  });
  t.after(() => store.close());
  return store;
}

function rawClient(t: TestContext, endpoints: string[]): Etcd3 {
  const client = new Etcd3({ hosts: endpoints });
  t.after(() => client.close());
  return client;
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Internals = { leaseId: string | null; lease: { revoked(): boolean; emitLoss(err: Error): void } | null; fence(reason: string): void };

/** The registration key's lease as etcd holds it now, or null when the key is gone. */
async function registrationLease(client: Etcd3, prefix: string, nodeId: number): Promise<string | null> {
  const res = await client.get(`${prefix}/brokers/${nodeId}`).exec();
  return res.kvs.length === 0 ? null : String(res.kvs[0]!.lease);
}

test('a store whose registration is deleted in etcd behind its back registers again', async (t) => {
  const etcd = await startEtcd(t);
  const store = await openStore(t, etcd.endpoints, '/gone');
  const other = await openStore(t, etcd.endpoints, '/gone');
  const client = rawClient(t, etcd.endpoints);
  await store.registerBroker({ nodeId: 1, endpoints: [], rack: null });
  await until('the other store sees broker 1', () => other.brokers().some((b) => b.nodeId === 1));
  const internals = store as unknown as Internals;
  const first = internals.leaseId;
  // What a lease that expired in etcd unnoticed looks like from here: the key goes.
  await client.delete().key('/gone/brokers/1').exec();
  await until('broker 1 registered again under a new lease', async () => {
    const lease = await registrationLease(client, '/gone', 1);
    return lease !== null && lease !== first && lease === internals.leaseId && !store.fenced;
  });
  await until('the other store sees broker 1 again', () => other.brokers().some((b) => b.nodeId === 1));
});

test('a lease lost while registering again is not used: the store registers under a live one', async (t) => {
  const etcd = await startEtcd(t);
  const store = await openStore(t, etcd.endpoints, '/lost');
  const client = rawClient(t, etcd.endpoints);
  await store.registerBroker({ nodeId: 1, endpoints: [], rack: null });
  const internals = store as unknown as Internals;
  // Every time the store calls itself registered again, its lease must be one etcd3 renews.
  const unfencedOnRevoked: boolean[] = [];
  store.onFencedChange((fenced) => { if (!fenced) unfencedOnRevoked.push(internals.lease?.revoked() ?? true); });
  const firstLease = internals.leaseId;
  // Fenced: the store abandons its lease, grants a new one and waits for its old
  // registration to expire before putting the new one. During that wait etcd3 declares the
  // new lease lost (and renews it no more), as it did in seed 1202 when etcd came back from a
  // quorum loss; etcd itself still holds the lease for up to a TTL, and the old registration
  // goes within that time (deleted here, where seed 1202 had its old lease expire).
  internals.fence('test: as if no keepalive had been answered');
  await until('the store holds its new lease', () => internals.lease !== null && internals.leaseId !== firstLease);
  const doomed = internals.leaseId;
  internals.lease!.emitLoss(new Error('test: we lost connection to etcd and our lease has expired'));
  await client.delete().key('/lost/brokers/1').exec();
  await until('the store is registered again', () => !store.fenced);
  // Past the doomed lease's TTL twice over: a registration under it would be gone by now.
  await new Promise((r) => setTimeout(r, 2 * SESSION_TIMEOUT_MS + 500));
  await until('broker 1 registered under a live lease', async () => {
    const lease = await registrationLease(client, '/lost', 1);
    return lease !== null && lease === internals.leaseId && !store.fenced;
  });
  assert.notEqual(internals.leaseId, doomed);
  assert.ok(unfencedOnRevoked.length > 0);
  assert.deepEqual(unfencedOnRevoked.filter((revoked) => revoked), [], 'the store called itself registered under a lease etcd3 no longer renews');
});
