// __consumer_offsets record formats, group -> partition mapping, subscription parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeConsumerProtocolSubscription,
  encodeGroupMetadataRecordKey,
  encodeGroupMetadataRecordValue,
  encodeOffsetCommitRecordKey,
  encodeOffsetCommitRecordValue,
  encodeVersionPrefixed,
} from '@tributary/protocol';
import {
  CoordinatorRecordError,
  decodeCoordinatorRecord,
  GroupCoordinator,
  javaStringHashCode,
  parseSubscriptionTopics,
  partitionForGroup,
  type GroupMetadataValue,
} from '../src/group/index.js';
import { MemoryCoordinatorLog } from './helpers/memory-coordinator-log.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { subscription, TEST_CONFIG } from './group-helpers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('Java String.hashCode and Kafka partitionFor', () => {
  assert.equal(javaStringHashCode(''), 0);
  assert.equal(javaStringHashCode('hello'), 99162322);
  // The classic Integer.MIN_VALUE hash: Utils.abs (& 0x7fffffff) gives 0, Math.abs would not.
  assert.equal(javaStringHashCode('polygenelubricants'), -2147483648);
  assert.equal(partitionForGroup('polygenelubricants', 50), 0);
  // Non-ASCII: hashed over UTF-16 code units, as Java does.
  assert.equal(javaStringHashCode('é'), 233);
  assert.equal(javaStringHashCode('😀'), 0xd83d * 31 + 0xde00);
  for (const g of ['console-consumer-1', 'my-group', 'x']) {
    const p = partitionForGroup(g, 50);
    assert.ok(p >= 0 && p < 50);
  }
});

const groupValue: GroupMetadataValue = {
  protocolType: 'consumer',
  generation: 7,
  protocol: 'range',
  leader: 'm-1',
  currentStateTimestamp: 1_700_000_000_123,
  members: [
    { memberId: 'm-1', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeout: 30000, sessionTimeout: 10000, subscription: subscription(['t']), assignment: Buffer.from([1, 2]) },
    { memberId: 'm-2', groupInstanceId: 'inst', clientId: 'c2', clientHost: '/10.0.0.1', rebalanceTimeout: 60000, sessionTimeout: 45000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
  ],
};

// Written out by hand from Kafka's OffsetCommitKey/Value and GroupMetadataKey/Value schemas
// (int16 version prefix, then the struct), independently of any codec in this repository.
const KNOWN = {
  offsetKey: hex('0001  0001 67  0005 746f706963  00000003'), // v1, "g", "topic", 3
  groupKey: hex('0002  0001 67'), // v2, "g"
  // v3: offset 2^40, leaderEpoch 4, "meta", commitTimestamp 1_700_000_000_000
  offsetValueV3: hex('0003  0000010000000000  00000004  0004 6d657461  0000018bcfe56800'),
  // v1: offset 5, "", commitTimestamp 1.7e12, expireTimestamp 1.8e12
  offsetValueV1: hex('0001  0000000000000005  0000  0000018bcfe56800  000001a3185c5000'),
  // v3: "consumer", generation 7, "range", leader "m-1", currentStateTimestamp, 2 members
  groupValueV3: hex(`
    0003  0008 636f6e73756d6572  00000007  0005 72616e6765  0003 6d2d31  0000018bcfe5687b  00000002
      0003 6d2d31  ffff  0001 63  000a 2f3132372e302e302e31  00007530  00002710
        0000000d 0000 00000001 0001 74 ffffffff  00000002 0102
      0003 6d2d32  0004 696e7374  0002 6332  0009 2f31302e302e302e31  0000ea60  0000afc8
        00000000  00000000`),
};

test('the coordinator writes Kafka bytes, and reads them back', () => {
  // The encoders offset-manager.ts and group-store.ts call, with the arguments they pass.
  assert.deepEqual(encodeOffsetCommitRecordKey({ group: 'g', topic: 'topic', partition: 3 }), KNOWN.offsetKey);
  assert.deepEqual(encodeGroupMetadataRecordKey({ group: 'g' }), KNOWN.groupKey);
  const v3 = { offset: 2 ** 40, leaderEpoch: 4, metadata: 'meta', commitTimestamp: 1_700_000_000_000, expireTimestamp: -1, seq: 12 };
  assert.deepEqual(encodeOffsetCommitRecordValue(v3), KNOWN.offsetValueV3);
  const v1 = { offset: 5, leaderEpoch: 4, metadata: '', commitTimestamp: 1_700_000_000_000, expireTimestamp: 1_800_000_000_000 };
  assert.deepEqual(encodeOffsetCommitRecordValue(v1), KNOWN.offsetValueV1, 'an expire timestamp selects v1, as Kafka');
  assert.deepEqual(encodeGroupMetadataRecordValue(groupValue), KNOWN.groupValueV3);

  assert.deepEqual(decodeCoordinatorRecord(KNOWN.offsetKey, KNOWN.offsetValueV3), {
    type: 'offset', group: 'g', topic: 'topic', partition: 3,
    value: { offset: 2 ** 40, leaderEpoch: 4, metadata: 'meta', commitTimestamp: 1_700_000_000_000, expireTimestamp: -1 },
  });
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.offsetKey, KNOWN.offsetValueV1), {
    type: 'offset', group: 'g', topic: 'topic', partition: 3,
    value: { offset: 5, leaderEpoch: -1, metadata: '', commitTimestamp: 1_700_000_000_000, expireTimestamp: 1_800_000_000_000 },
  });
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.groupKey, KNOWN.groupValueV3), { type: 'group', group: 'g', value: groupValue });
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.offsetKey, null), { type: 'offset', group: 'g', topic: 'topic', partition: 3, value: null });
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.groupKey, null), { type: 'group', group: 'g', value: null });
});

test('older and flexible versions Kafka may have written', () => {
  // OffsetCommitKey v0 (Kafka 0.8.2) has the same struct.
  const keyV0 = hex('0000  0001 67  0001 74  00000009');
  assert.deepEqual(decodeCoordinatorRecord(keyV0, null), { type: 'offset', group: 'g', topic: 't', partition: 9, value: null });
  const v4 = encodeOffsetCommitRecordValue({ offset: 5, leaderEpoch: 1, metadata: 'x', commitTimestamp: 9 }, 4);
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.offsetKey, v4), {
    type: 'offset', group: 'g', topic: 'topic', partition: 3,
    value: { offset: 5, leaderEpoch: 1, metadata: 'x', commitTimestamp: 9, expireTimestamp: -1 },
  });
  const g4 = encodeGroupMetadataRecordValue(groupValue, 4);
  assert.deepEqual(decodeCoordinatorRecord(KNOWN.groupKey, g4), { type: 'group', group: 'g', value: groupValue });
  const g0 = decodeCoordinatorRecord(KNOWN.groupKey, encodeGroupMetadataRecordValue(groupValue, 0));
  assert.ok(g0.type === 'group' && g0.value !== null);
  assert.equal(g0.value.members[0]!.rebalanceTimeout, 10000, 'v0 has no rebalance timeout: the session timeout stands in');
  assert.equal(g0.value.members[1]!.groupInstanceId, null);
  assert.equal(g0.value.currentStateTimestamp, -1);
});

test('record types other than the classic ones come back unknown, undecoded', () => {
  // 3..11 are KIP-848 / share-group records; 12+ and negative ones are from a future Kafka.
  for (const type of [3, 8, 11, 12, 0x7fff, -1]) {
    const key = Buffer.alloc(2);
    key.writeInt16BE(type);
    assert.deepEqual(decodeCoordinatorRecord(key, Buffer.from([0xde, 0xad])), { type: 'unknown', recordType: type });
  }
});

test('truncated, inexact and random bytes raise CoordinatorRecordError only', () => {
  const good: [Buffer, Buffer][] = [[KNOWN.offsetKey, KNOWN.offsetValueV3], [KNOWN.offsetKey, KNOWN.offsetValueV1], [KNOWN.groupKey, KNOWN.groupValueV3]];
  for (const [key, value] of good) {
    for (let n = 0; n < key.length; n++) assert.throws(() => decodeCoordinatorRecord(key.subarray(0, n), value), CoordinatorRecordError);
    for (let n = 0; n < value.length; n++) {
      assert.throws(() => decodeCoordinatorRecord(key, value.subarray(0, n)), (e: unknown) => {
        assert.ok(e instanceof CoordinatorRecordError);
        assert.match(e.message, /__consumer_offsets record/);
        return true;
      });
    }
  }
  // Beyond 2^53 an offset cannot be represented exactly: refuse rather than round.
  const huge = Buffer.from(KNOWN.offsetValueV3);
  huge.writeInt32BE(0x7fffffff, 2);
  assert.throws(() => decodeCoordinatorRecord(KNOWN.offsetKey, huge), /offset .* outside the exact number range/);
  // An unknown value version.
  assert.throws(() => decodeCoordinatorRecord(KNOWN.offsetKey, hex('0005 00')), CoordinatorRecordError);

  const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));
  // Random keys and values, and random values behind each valid key (the interesting case).
  const key = fc.oneof(bytes, fc.constantFrom(KNOWN.offsetKey, KNOWN.groupKey), bytes.map((b) => Buffer.concat([Buffer.from([0, b.length % 3]), b])));
  fc.assert(
    fc.property(key, fc.option(bytes), (k, v) => {
      try {
        decodeCoordinatorRecord(k, v);
      } catch (e) {
        if (!(e instanceof CoordinatorRecordError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

test('replay skips undecodable records and loads the rest', async () => {
  const log = new MemoryCoordinatorLog();
  const scheduler = new ManualScheduler();
  const config = { ...TEST_CONFIG };
  const partition = partitionForGroup('g', config.offsetsTopicNumPartitions!);
  await log.append(partition, [
    { key: encodeOffsetCommitRecordKey({ group: 'g', topic: 't', partition: 0 }), value: encodeOffsetCommitRecordValue({ offset: 41, leaderEpoch: 2, metadata: '', commitTimestamp: 1 }) },
    { key: KNOWN.offsetKey.subarray(0, 5), value: KNOWN.offsetValueV3 }, // torn key
    { key: encodeOffsetCommitRecordKey({ group: 'g', topic: 't', partition: 1 }), value: hex('0003 0000') }, // torn value
    { key: hex('0007 0001 67'), value: hex('00') }, // a KIP-848 record: ignored
    { key: KNOWN.groupKey.subarray(0, 3), value: null },
    { key: encodeOffsetCommitRecordKey({ group: 'g', topic: 't', partition: 2 }), value: encodeOffsetCommitRecordValue({ offset: 7, leaderEpoch: -1, metadata: 'm', commitTimestamp: 1 }) },
  ]);
  const coordinator = new GroupCoordinator({ log, scheduler, config });
  const summary = (await coordinator.startup())[partition]!;
  assert.equal(summary.records, 6);
  assert.equal(summary.skipped, 4);
  assert.equal(summary.offsets, 2);
  const fetched = coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [0, 1, 2] }], false).topics[0]!.partitions;
  assert.deepEqual(fetched.map((p) => p.committedOffset), [41, -1, 7]);
});

test('consumer subscription parsing: topics, and null for malformed metadata', () => {
  assert.deepEqual(parseSubscriptionTopics(subscription(['a', 'bb'])), ['a', 'bb']);
  assert.deepEqual(parseSubscriptionTopics(subscription([])), []);
  // A newer version is read through its version-0 prefix, as Kafka does.
  const v3 = encodeVersionPrefixed(3, encodeConsumerProtocolSubscription, {
    topics: ['x', 'y'], userData: Buffer.from('u'), ownedPartitions: [{ topic: 'x', partitions: [0, 1] }], generationId: 4, rackId: 'r',
  });
  assert.deepEqual(parseSubscriptionTopics(v3), ['x', 'y']);
  assert.equal(parseSubscriptionTopics(Buffer.from([0, 0, 0, 0, 0, 5])), null);
  assert.equal(parseSubscriptionTopics(Buffer.alloc(0)), null);
  assert.equal(parseSubscriptionTopics(Buffer.from([0xff, 0xff, 0, 0, 0, 0])), null);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    const r = parseSubscriptionTopics(Buffer.from(b));
    assert.ok(r === null || Array.isArray(r));
  }));
});
