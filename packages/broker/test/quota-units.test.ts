// Client quotas without sockets: the sampled rate and its throttle time, Kafka's precedence
// of the eight user/client-id entities, and the quota admin validation and filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../src/quota/rate.js';
import { entityKey, resolveQuota } from '../src/quota/client-quota-entity.js';
import type { ClientQuotaEntry, QuotaEntityPart } from '../src/quota/client-quota-entity.js';
import { ClientQuotaManager } from '../src/quota/client-quota-manager.js';
import { describeQuotas, MatchType, validateAlteration } from '../src/quota/quota-admin.js';

const W = { samples: 11, sampleMs: 1000 };

test('a new client may burst (samples - 1) windows of quota, as under Kafka, then is throttled back to it', () => {
  const bucket = new TokenBucket(W);
  assert.equal(bucket.recordAndGetThrottleTimeMs(10_000, 1000, 0), 0, '10 s worth of 1000 B/s at once');
  // 10 000 more: 10 s to earn them back (Kafka's (rate - quota) / quota * window gives the same).
  assert.equal(bucket.recordAndGetThrottleTimeMs(10_000, 1000, 0), 10_000);
  assert.equal(new TokenBucket(W).recordAndGetThrottleTimeMs(20_000, 1000, 0), 10_000);
});

test('a saturating client is held at its quota: simulated over 60 s, every 5 s span within 2%', () => {
  const quota = 262_144;
  for (const requestBytes of [16_384, 65_536, 262_144]) {
    const bucket = new TokenBucket(W);
    const sends: number[] = [];
    for (let t = 0; t < 60_000;) {
      sends.push(t);
      t += Math.max(bucket.recordAndGetThrottleTimeMs(requestBytes, quota, t), 5);
    }
    for (let from = 15_000; from < 55_000; from += 5000) {
      const bytes = sends.filter((t) => t >= from && t < from + 5000).length * requestBytes;
      const ratio = bytes / 5 / quota;
      assert.ok(Math.abs(ratio - 1) <= 0.02, `${requestBytes} B requests, ${from}-${from + 5000} ms: ${ratio.toFixed(3)} x quota`);
    }
  }
});

test('an idle client earns its burst back, never more', () => {
  const bucket = new TokenBucket(W);
  assert.equal(bucket.recordAndGetThrottleTimeMs(10_000, 1000, 0), 0);
  assert.equal(bucket.recordAndGetThrottleTimeMs(10_000, 1000, 1_000_000), 0);
  assert.equal(bucket.recordAndGetThrottleTimeMs(1000, 1000, 1_000_000), 1000);
});

function entries(...list: [Record<string, string | null>, Record<string, number>][]): Map<string, ClientQuotaEntry> {
  return new Map(list.map(([e, values]) => {
    const entity: QuotaEntityPart[] = Object.entries(e).map(([entityType, entityName]) => ({ entityType, entityName }));
    return [entityKey(entity), { entity, values }];
  }));
}

test("Kafka's precedence of the eight entities, each key on its own", () => {
  const k = 'producer_byte_rate';
  const all: [Record<string, string | null>, number][] = [
    [{ user: 'alice', 'client-id': 'app' }, 1],
    [{ user: 'alice', 'client-id': null }, 2],
    [{ user: 'alice' }, 3],
    [{ user: null, 'client-id': 'app' }, 4],
    [{ user: null, 'client-id': null }, 5],
    [{ user: null }, 6],
    [{ 'client-id': 'app' }, 7],
    [{ 'client-id': null }, 8],
  ];
  for (let i = 0; i < all.length; i++) {
    const map = entries(...all.slice(i).map(([e, v]) => [e, { [k]: v }] as [Record<string, string | null>, Record<string, number>]));
    assert.equal(resolveQuota(map, k, 'alice', 'app')?.value, i + 1, `level ${i + 1}`);
  }
  // Sharing: user=alice is shared by all of alice's clients; client-id=<default> per client id.
  const map = entries([{ user: 'alice' }, { [k]: 3 }], [{ 'client-id': null }, { [k]: 8, consumer_byte_rate: 9 }]);
  assert.deepEqual(resolveQuota(map, k, 'alice', 'app'), { value: 3, userTag: 'alice', clientTag: '' });
  assert.deepEqual(resolveQuota(map, k, 'bob', 'app'), { value: 8, userTag: '', clientTag: 'app' });
  assert.deepEqual(resolveQuota(map, 'consumer_byte_rate', 'alice', 'x'), { value: 9, userTag: '', clientTag: 'x' });
  assert.equal(resolveQuota(map, 'request_percentage', 'alice', 'app'), undefined);
});

test('the quota manager follows the store and keeps one rate per sharing group', () => {
  let list: ClientQuotaEntry[] = [];
  const manager = new ClientQuotaManager({ entries: () => list, window: W });
  assert.equal(manager.recordAndGetThrottleTimeMs('produce', 'User:ANONYMOUS', 'a', 1e9, 0), 0, 'no quota: unlimited');
  list = [{ entity: [{ entityType: 'client-id', entityName: null }], values: { producer_byte_rate: 1000 } }];
  assert.equal(manager.recordAndGetThrottleTimeMs('produce', 'User:ANONYMOUS', 'a', 20_000, 0), 10_000);
  assert.equal(manager.recordAndGetThrottleTimeMs('produce', 'User:ANONYMOUS', 'b', 5000, 0), 0, 'client b has its own allowance');
  assert.equal(manager.recordAndGetThrottleTimeMs('fetch', 'User:ANONYMOUS', 'a', 1e9, 0), 0, 'no consumer quota');
  list = [{ entity: [{ entityType: 'user', entityName: 'ANONYMOUS' }], values: { request_percentage: 1 } }];
  // 1% of a second per second; a request of 500 ms (50%) is bounded to one window.
  assert.equal(manager.recordAndGetThrottleTimeMs('request', 'User:ANONYMOUS', 'a', 50, 0), 1000);
});

test('DescribeClientQuotas filters: exact, default, specified, strict, and bad filters', () => {
  const list: ClientQuotaEntry[] = [...entries(
    [{ user: 'alice' }, { producer_byte_rate: 1 }],
    [{ user: null }, { producer_byte_rate: 2 }],
    [{ user: 'alice', 'client-id': 'app' }, { producer_byte_rate: 3 }],
    [{ ip: '10.0.0.1' }, { connection_creation_rate: 4 }],
  ).values()];
  const pick = (components: { entityType: string; matchType: number; match: string | null }[], strict: boolean) => {
    const r = describeQuotas(list, components, strict);
    assert.ok(Array.isArray(r), JSON.stringify(r));
    return r.map((e) => Object.values(e.values)[0]).sort();
  };
  assert.deepEqual(pick([], false), [1, 2, 3, 4]);
  assert.deepEqual(pick([], true), []);
  assert.deepEqual(pick([{ entityType: 'user', matchType: MatchType.EXACT, match: 'alice' }], false), [1, 3]);
  assert.deepEqual(pick([{ entityType: 'user', matchType: MatchType.EXACT, match: 'alice' }], true), [1]);
  assert.deepEqual(pick([{ entityType: 'user', matchType: MatchType.DEFAULT, match: null }], false), [2]);
  assert.deepEqual(pick([{ entityType: 'user', matchType: MatchType.SPECIFIED, match: null }], false), [1, 3]);
  assert.deepEqual(pick([{ entityType: 'ip', matchType: MatchType.SPECIFIED, match: null }], false), [4]);
  for (const bad of [
    [{ entityType: 'group', matchType: 0, match: 'x' }],
    [{ entityType: 'user', matchType: 0, match: null }],
    [{ entityType: 'user', matchType: 1, match: 'x' }],
    [{ entityType: 'user', matchType: 7, match: null }],
    [{ entityType: 'user', matchType: 2, match: null }, { entityType: 'user', matchType: 2, match: null }],
    [{ entityType: 'user', matchType: 2, match: null }, { entityType: 'ip', matchType: 2, match: null }],
  ]) {
    const r = describeQuotas(list, bad, false);
    assert.ok(!Array.isArray(r) && r.errorCode === 42, JSON.stringify(bad));
  }
});

test('AlterClientQuotas validation: entities, keys, whole numbers', () => {
  const op = (key: string, value: number, remove = false) => ({ key, value, remove });
  const ok = validateAlteration({ entity: [{ entityType: 'user', entityName: 'alice' }], ops: [op('producer_byte_rate', 1024), op('request_percentage', 12.5)] }, undefined);
  assert.ok(Array.isArray(ok) && ok.length === 2);
  const cases: [QuotaEntityPart[], ReturnType<typeof op>[], RegExp][] = [
    [[], [op('producer_byte_rate', 1)], /Invalid empty client quota entity/],
    [[{ entityType: 'user', entityName: 'a' }, { entityType: 'user', entityName: 'b' }], [op('producer_byte_rate', 1)], /duplicate entity entry user/],
    [[{ entityType: 'group', entityName: 'a' }], [op('producer_byte_rate', 1)], /Unhandled client quota entity type: group/],
    [[{ entityType: 'user', entityName: '' }], [op('producer_byte_rate', 1)], /Empty user not supported/],
    [[{ entityType: 'ip', entityName: '1.2.3.4' }, { entityType: 'user', entityName: 'a' }], [op('connection_creation_rate', 1)], /Invalid empty client quota entity/],
    [[{ entityType: 'ip', entityName: 'not an ip' }], [op('connection_creation_rate', 1)], /not a valid IP/],
    [[{ entityType: 'ip', entityName: '1.2.3.4' }], [op('producer_byte_rate', 1)], /Invalid configuration key producer_byte_rate/],
    [[{ entityType: 'user', entityName: 'a' }], [op('connection_creation_rate', 1)], /Invalid configuration key connection_creation_rate/],
    [[{ entityType: 'user', entityName: 'a' }], [op('producer_byte_rate', 1.5)], /must be a Long value/],
    [[{ entityType: 'user', entityName: 'a' }], [op('producer_byte_rate', 1), op('producer_byte_rate', 2)], /Duplicate quota key/],
  ];
  for (const [entity, ops, message] of cases) {
    const r = validateAlteration({ entity, ops }, undefined);
    assert.ok(!Array.isArray(r), `${JSON.stringify(entity)} ${JSON.stringify(ops)} must fail`);
    assert.equal(r.errorCode, 42);
    assert.match(r.errorMessage, message);
  }
  // Removing a key that is not set writes nothing; setting the same value writes nothing.
  const current: ClientQuotaEntry = { entity: [{ entityType: 'user', entityName: 'a' }], values: { producer_byte_rate: 5 } };
  assert.deepEqual(validateAlteration({ entity: current.entity, ops: [op('consumer_byte_rate', 0, true), op('producer_byte_rate', 5)] }, current), []);
});
