/**
 * Records of Kafka's internal topics, byte for byte as Kafka writes them, so that tools
 * which read `__consumer_offsets` directly (Burrow, kafka-consumer-groups' offsets dump)
 * keep working. Hand-written; the message codecs it uses are generated.
 *
 * Layout (Kafka's CoordinatorRecordSerde, MessageUtil.toVersionPrefixedBytes):
 *
 *   key   = int16 record type | key message encoded at that version
 *   value = int16 value version | value message      (a null value is a tombstone)
 *
 * In `__consumer_offsets` the key's version *is* the record type: 0 and 1 OffsetCommit,
 * 2 GroupMetadata, 3..8 ConsumerGroup* (KIP-848), 9..11 ShareGroup* (see
 * GroupCoordinatorRecordSerde). `__transaction_state` uses TransactionLogKey version 0.
 *
 * Versions Kafka 3.9 writes, which the encoders here default to: OffsetCommitKey 1;
 * OffsetCommitValue 3, or 1 when an explicit expire timestamp is set (v1 is the only
 * version that carries it); GroupMetadataKey 2; GroupMetadataValue 3 (the highest
 * non-flexible one); TransactionLogKey 0; TransactionLogValue 0.
 */
import { ProtocolDecodeError } from '../codec/errors.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { decodeConsumerGroupCurrentMemberAssignmentKey } from './consumer-group-current-member-assignment-key.js';
import { decodeConsumerGroupCurrentMemberAssignmentValue } from './consumer-group-current-member-assignment-value.js';
import { decodeConsumerGroupMemberMetadataKey } from './consumer-group-member-metadata-key.js';
import { decodeConsumerGroupMemberMetadataValue } from './consumer-group-member-metadata-value.js';
import { decodeConsumerGroupMetadataKey } from './consumer-group-metadata-key.js';
import { decodeConsumerGroupMetadataValue } from './consumer-group-metadata-value.js';
import { decodeConsumerGroupPartitionMetadataKey } from './consumer-group-partition-metadata-key.js';
import { decodeConsumerGroupPartitionMetadataValue } from './consumer-group-partition-metadata-value.js';
import { decodeConsumerGroupTargetAssignmentMemberKey } from './consumer-group-target-assignment-member-key.js';
import { decodeConsumerGroupTargetAssignmentMemberValue } from './consumer-group-target-assignment-member-value.js';
import { decodeConsumerGroupTargetAssignmentMetadataKey } from './consumer-group-target-assignment-metadata-key.js';
import { decodeConsumerGroupTargetAssignmentMetadataValue } from './consumer-group-target-assignment-metadata-value.js';
import { decodeGroupMetadataKey, encodeGroupMetadataKey, type GroupMetadataKey } from './group-metadata-key.js';
import { decodeGroupMetadataValue, encodeGroupMetadataValue, type GroupMetadataValue } from './group-metadata-value.js';
import { decodeOffsetCommitKey, encodeOffsetCommitKey, type OffsetCommitKey } from './offset-commit-key.js';
import { decodeOffsetCommitValue, encodeOffsetCommitValue, type OffsetCommitValue } from './offset-commit-value.js';
import { decodeShareGroupMemberMetadataKey } from './share-group-member-metadata-key.js';
import { decodeShareGroupMemberMetadataValue } from './share-group-member-metadata-value.js';
import { decodeShareGroupMetadataKey } from './share-group-metadata-key.js';
import { decodeShareGroupMetadataValue } from './share-group-metadata-value.js';
import { decodeShareGroupPartitionMetadataKey } from './share-group-partition-metadata-key.js';
import { decodeShareGroupPartitionMetadataValue } from './share-group-partition-metadata-value.js';
import { decodeTransactionLogKey, encodeTransactionLogKey, type TransactionLogKey } from './transaction-log-key.js';
import { decodeTransactionLogValue, encodeTransactionLogValue, type TransactionLogValue } from './transaction-log-value.js';

/** Record types (key versions) of `__consumer_offsets`, as GroupCoordinatorRecordSerde. */
export const GroupCoordinatorRecordType = {
  OFFSET_COMMIT_V0: 0,
  OFFSET_COMMIT: 1,
  GROUP_METADATA: 2,
  CONSUMER_GROUP_METADATA: 3,
  CONSUMER_GROUP_PARTITION_METADATA: 4,
  CONSUMER_GROUP_MEMBER_METADATA: 5,
  CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: 6,
  CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: 7,
  CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: 8,
  SHARE_GROUP_PARTITION_METADATA: 9,
  SHARE_GROUP_MEMBER_METADATA: 10,
  SHARE_GROUP_METADATA: 11,
} as const;

type Decode = (r: Reader, version: number) => unknown;

// [decodeKey, decodeValue] by record type.
const GROUP_RECORD_CODECS: readonly (readonly [Decode, Decode])[] = [
  [decodeOffsetCommitKey, decodeOffsetCommitValue],
  [decodeOffsetCommitKey, decodeOffsetCommitValue],
  [decodeGroupMetadataKey, decodeGroupMetadataValue],
  [decodeConsumerGroupMetadataKey, decodeConsumerGroupMetadataValue],
  [decodeConsumerGroupPartitionMetadataKey, decodeConsumerGroupPartitionMetadataValue],
  [decodeConsumerGroupMemberMetadataKey, decodeConsumerGroupMemberMetadataValue],
  [decodeConsumerGroupTargetAssignmentMetadataKey, decodeConsumerGroupTargetAssignmentMetadataValue],
  [decodeConsumerGroupTargetAssignmentMemberKey, decodeConsumerGroupTargetAssignmentMemberValue],
  [decodeConsumerGroupCurrentMemberAssignmentKey, decodeConsumerGroupCurrentMemberAssignmentValue],
  [decodeShareGroupPartitionMetadataKey, decodeShareGroupPartitionMetadataValue],
  [decodeShareGroupMemberMetadataKey, decodeShareGroupMemberMetadataValue],
  [decodeShareGroupMetadataKey, decodeShareGroupMetadataValue],
];

/** A decoded coordinator record; `value` null is a tombstone. */
export interface CoordinatorRecord {
  recordType: number;
  key: unknown;
  /** -1 for a tombstone. */
  valueVersion: number;
  value: unknown;
}

/** Encodes `m` at `version`, preceded by that version as an int16. */
export function encodeVersionPrefixed<T>(
  version: number,
  encode: (w: Writer, version: number, m: T) => void,
  m: T,
): Buffer {
  const w = new Writer(128);
  w.int16(version);
  encode(w, version, m);
  return w.finish();
}

function decodeVersionPrefixed(buf: Buffer, what: string, decodeAt: (r: Reader, version: number) => unknown): [number, unknown] {
  const r = new Reader(buf);
  if (r.remaining < 2) throw new ProtocolDecodeError(`${what} of ${buf.length} bytes has no version`);
  const version = r.int16();
  return [version, decodeAt(r, version)];
}

export function encodeOffsetCommitRecordKey(key: OffsetCommitKey): Buffer {
  return encodeVersionPrefixed(GroupCoordinatorRecordType.OFFSET_COMMIT, encodeOffsetCommitKey, key);
}

/** Version 1 when an expire timestamp is set (as Kafka), 3 otherwise; or as given. */
export function encodeOffsetCommitRecordValue(value: OffsetCommitValue, version?: number): Buffer {
  const v = version ?? (value.expireTimestamp !== undefined && value.expireTimestamp !== -1 ? 1 : 3);
  return encodeVersionPrefixed(v, encodeOffsetCommitValue, value);
}

export function encodeGroupMetadataRecordKey(key: GroupMetadataKey): Buffer {
  return encodeVersionPrefixed(GroupCoordinatorRecordType.GROUP_METADATA, encodeGroupMetadataKey, key);
}

export function encodeGroupMetadataRecordValue(value: GroupMetadataValue, version = 3): Buffer {
  return encodeVersionPrefixed(version, encodeGroupMetadataValue, value);
}

/** Decodes a `__consumer_offsets` record (key and value bytes as stored). */
export function decodeGroupCoordinatorRecord(key: Buffer, value: Buffer | null): CoordinatorRecord {
  let codecs: readonly [Decode, Decode] | undefined;
  const [recordType, k] = decodeVersionPrefixed(key, 'coordinator record key', (r, type) => {
    codecs = GROUP_RECORD_CODECS[type];
    if (codecs === undefined) throw new ProtocolDecodeError(`unknown __consumer_offsets record type ${type}`);
    // The key message of a record type is encoded at the version equal to the type.
    return codecs[0](r, type);
  });
  if (value === null) return { recordType, key: k, valueVersion: -1, value: null };
  const [valueVersion, v] = decodeVersionPrefixed(value, 'coordinator record value', codecs![1]);
  return { recordType, key: k, valueVersion, value: v };
}

export function encodeTransactionLogRecordKey(key: TransactionLogKey): Buffer {
  return encodeVersionPrefixed(0, encodeTransactionLogKey, key);
}

export function encodeTransactionLogRecordValue(value: TransactionLogValue, version = 0): Buffer {
  return encodeVersionPrefixed(version, encodeTransactionLogValue, value);
}

/** Decodes a `__transaction_state` record; `value` null in the result is a tombstone. */
export function decodeTransactionLogRecord(
  key: Buffer,
  value: Buffer | null,
): { key: TransactionLogKey; valueVersion: number; value: TransactionLogValue | null } {
  const [, k] = decodeVersionPrefixed(key, 'transaction log key', decodeTransactionLogKey);
  if (value === null) return { key: k as TransactionLogKey, valueVersion: -1, value: null };
  const [valueVersion, v] = decodeVersionPrefixed(value, 'transaction log value', decodeTransactionLogValue);
  return { key: k as TransactionLogKey, valueVersion, value: v as TransactionLogValue };
}
