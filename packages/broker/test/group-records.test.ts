// __consumer_offsets record formats, group -> partition mapping, subscription parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CoordinatorRecordError,
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeRecordKey,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  javaStringHashCode,
  parseSubscriptionTopics,
  partitionForGroup,
  type GroupMetadataValue,
} from '../src/group/index.js';
// The generated codecs are not exported from @tributary/protocol's index yet; compare with
// them directly so that swapping to them later cannot change a byte on disk.
import {
  decodeGroupCoordinatorRecord,
  encodeGroupMetadataRecordKey,
  encodeGroupMetadataRecordValue,
  encodeOffsetCommitRecordKey,
  encodeOffsetCommitRecordValue,
} from '../../protocol/src/internal/coordinator-records.js';
import { subscription } from './group-helpers.js';

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

test('records are byte-identical to the generated Kafka codecs', () => {
  assert.deepEqual(encodeOffsetCommitKey('g', 'topic', 3), encodeOffsetCommitRecordKey({ group: 'g', topic: 'topic', partition: 3 }));
  assert.deepEqual(encodeGroupMetadataKey('g'), encodeGroupMetadataRecordKey({ group: 'g' }));
  const v3 = { offset: 2 ** 40, leaderEpoch: 4, metadata: 'meta', commitTimestamp: 1_700_000_000_000, expireTimestamp: -1 };
  assert.deepEqual(encodeOffsetCommitValue(v3), encodeOffsetCommitRecordValue(v3));
  const v1 = { ...v3, expireTimestamp: 1_800_000_000_000 };
  assert.deepEqual(encodeOffsetCommitValue(v1), encodeOffsetCommitRecordValue(v1));
  const generated = encodeGroupMetadataRecordValue({
    ...groupValue,
    members: groupValue.members.map((m) => ({ ...m })),
  });
  assert.deepEqual(encodeGroupMetadataValue(groupValue), generated);
  // And the generated decoder reads what we write.
  const decoded = decodeGroupCoordinatorRecord(encodeGroupMetadataKey('g'), encodeGroupMetadataValue(groupValue));
  assert.equal(decoded.recordType, 2);
  assert.equal(decoded.valueVersion, 3);
});

test('round trips, including the flexible v4 values Kafka may write', () => {
  assert.deepEqual(decodeRecordKey(encodeOffsetCommitKey('g', 't', 9)), { type: 'offset', group: 'g', topic: 't', partition: 9 });
  assert.deepEqual(decodeRecordKey(encodeGroupMetadataKey('g')), { type: 'group', group: 'g' });
  assert.deepEqual(decodeGroupMetadataValue(encodeGroupMetadataValue(groupValue)), groupValue);
  const v4 = encodeOffsetCommitRecordValue({ offset: 5, leaderEpoch: 1, metadata: 'x', commitTimestamp: 9 }, 4);
  assert.deepEqual(decodeOffsetCommitValue(v4), { offset: 5, leaderEpoch: 1, metadata: 'x', commitTimestamp: 9, expireTimestamp: -1 });
  const g4 = encodeGroupMetadataRecordValue({ ...groupValue, members: groupValue.members.map((m) => ({ ...m })) }, 4);
  assert.deepEqual(decodeGroupMetadataValue(g4), groupValue);
  const g0 = encodeGroupMetadataRecordValue({ ...groupValue, members: groupValue.members.map((m) => ({ ...m })) }, 0);
  const d0 = decodeGroupMetadataValue(g0);
  assert.equal(d0.members[0]!.rebalanceTimeout, 10000, 'v0 has no rebalance timeout: the session timeout stands in');
  assert.equal(d0.currentStateTimestamp, -1);
});

test('random and truncated bytes raise CoordinatorRecordError only', () => {
  const good = [encodeOffsetCommitValue({ offset: 1, leaderEpoch: 1, metadata: 'abc', commitTimestamp: 2, expireTimestamp: -1 }), encodeGroupMetadataValue(groupValue)];
  for (const buf of good) {
    for (let n = 0; n < buf.length; n++) {
      assert.throws(() => (buf === good[0] ? decodeOffsetCommitValue : decodeGroupMetadataValue)(buf.subarray(0, n)), CoordinatorRecordError);
    }
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      for (const decode of [decodeRecordKey, decodeOffsetCommitValue, decodeGroupMetadataValue]) {
        try {
          decode(buf);
        } catch (e) {
          if (!(e instanceof CoordinatorRecordError)) throw e;
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test('consumer subscription parsing: topics, and null for malformed metadata', () => {
  assert.deepEqual(parseSubscriptionTopics(subscription(['a', 'bb'])), ['a', 'bb']);
  assert.deepEqual(parseSubscriptionTopics(subscription([])), []);
  assert.equal(parseSubscriptionTopics(Buffer.from([0, 0, 0, 0, 0, 5])), null);
  assert.equal(parseSubscriptionTopics(Buffer.alloc(0)), null);
  assert.equal(parseSubscriptionTopics(Buffer.from([0xff, 0xff, 0, 0, 0, 0])), null);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    const r = parseSubscriptionTopics(Buffer.from(b));
    assert.ok(r === null || Array.isArray(r));
  }));
});
