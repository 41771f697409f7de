/**
 * Reads the `__consumer_offsets` records the classic group coordinator replays, over the
 * generated codecs of `@tributary/protocol` (Kafka's OffsetCommitKey/Value and
 * GroupMetadataKey/Value message definitions). Writers call the protocol package's
 * `encodeOffsetCommitRecordKey/Value` and `encodeGroupMetadataRecordKey/Value` directly: they
 * already choose the versions Kafka writes (OffsetCommitValue v3, or v1 when an explicit expire
 * timestamp is set; GroupMetadataValue v3), so the bytes on disk are Kafka's.
 *
 * Layout (Kafka's MessageUtil.toVersionPrefixedBytes; the key's version is the record type):
 *
 *   key   = int16 version | key message    0 or 1: OffsetCommitKey (group, topic, partition)
 *                                          2: GroupMetadataKey (group)
 *                                          3..: KIP-848 and share-group records (not ours)
 *   value = int16 version | value message  (null value = tombstone)
 *
 * What this adapter adds to the generated decoders, and why:
 * - Record types other than 0..2 come back as `unknown` without being decoded: the classic
 *   coordinator ignores them, and a newer Kafka may have written types we have no codec for.
 * - Every decode failure is a CoordinatorRecordError naming the record, with the codec's
 *   ProtocolDecodeError as its cause; the loader skips such a record instead of failing the
 *   partition.
 * - int64 fields are checked to be exact numbers (the wire reader rounds beyond 2^53): a
 *   rounded offset would silently point somewhere else.
 * - GroupMetadataValue v0 has no rebalance timeout; the session timeout stands in, as in Kafka.
 * - Member subscription and assignment bytes are copied, so a loaded group does not pin the
 *   whole buffer the log was replayed from.
 */
import {
  decodeGroupCoordinatorRecord,
  GroupCoordinatorRecordType,
  ProtocolDecodeError,
  type GroupMetadataKey,
  type GroupMetadataValue as GroupMetadataMessage,
  type GroupMetadataValueMemberMetadata,
  type OffsetCommitKey,
  type OffsetCommitValue as OffsetCommitMessage,
} from '@tributary/protocol';

export class CoordinatorRecordError extends Error {
  readonly code = 'TRIB_ERR_COORDINATOR_RECORD';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinatorRecordError';
  }
}

/** An OffsetCommitValue with every version's defaults filled in (-1 when a field is absent). */
export type OffsetCommitValue = Required<Omit<OffsetCommitMessage, 'unknownTaggedFields'>>;

/** A group member as stored; groupInstanceId is null and timeouts -1 when absent. */
export type GroupMetadataMemberValue = Required<Omit<GroupMetadataValueMemberMetadata, 'unknownTaggedFields'>>;

/** A GroupMetadataValue with defaults filled in (currentStateTimestamp -1 before v2). */
export interface GroupMetadataValue extends Required<Omit<GroupMetadataMessage, 'unknownTaggedFields' | 'members'>> {
  members: GroupMetadataMemberValue[];
}

/** One replayed record; `value` null is a tombstone. */
export type CoordinatorRecord =
  | { type: 'offset'; group: string; topic: string; partition: number; value: OffsetCommitValue | null }
  | { type: 'group'; group: string; value: GroupMetadataValue | null }
  | { type: 'unknown'; recordType: number };

/** Decodes one `__consumer_offsets` record as stored (key bytes, value bytes or null). */
export function decodeCoordinatorRecord(key: Buffer, value: Buffer | null): CoordinatorRecord {
  if (key.length >= 2) {
    const recordType = key.readInt16BE(0);
    if (recordType < 0 || recordType > GroupCoordinatorRecordType.GROUP_METADATA) return { type: 'unknown', recordType };
  }
  let decoded: ReturnType<typeof decodeGroupCoordinatorRecord>;
  try {
    decoded = decodeGroupCoordinatorRecord(key, value);
  } catch (error) {
    if (!(error instanceof ProtocolDecodeError)) throw error;
    throw new CoordinatorRecordError(`__consumer_offsets record (key of ${key.length} bytes, value of ${value?.length ?? 'no'} bytes) does not decode: ${error.message}`, { cause: error });
  }
  if (decoded.recordType === GroupCoordinatorRecordType.GROUP_METADATA) {
    const { group } = decoded.key as GroupMetadataKey;
    return { type: 'group', group, value: decoded.value === null ? null : groupMetadataValue(decoded.value as GroupMetadataMessage, decoded.valueVersion) };
  }
  const { group, topic, partition } = decoded.key as OffsetCommitKey;
  return { type: 'offset', group, topic, partition, value: decoded.value === null ? null : offsetCommitValue(decoded.value as OffsetCommitMessage) };
}

function offsetCommitValue(m: OffsetCommitMessage): OffsetCommitValue {
  return {
    offset: exact(m.offset, 'OffsetCommitValue.offset'),
    leaderEpoch: m.leaderEpoch ?? -1,
    metadata: m.metadata,
    commitTimestamp: exact(m.commitTimestamp, 'OffsetCommitValue.commitTimestamp'),
    expireTimestamp: exact(m.expireTimestamp ?? -1, 'OffsetCommitValue.expireTimestamp'),
  };
}

function groupMetadataValue(m: GroupMetadataMessage, version: number): GroupMetadataValue {
  return {
    protocolType: m.protocolType,
    generation: m.generation,
    protocol: m.protocol,
    leader: m.leader,
    currentStateTimestamp: exact(m.currentStateTimestamp ?? -1, 'GroupMetadataValue.currentStateTimestamp'),
    members: m.members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId ?? null,
      clientId: member.clientId,
      clientHost: member.clientHost,
      rebalanceTimeout: version === 0 ? member.sessionTimeout : (member.rebalanceTimeout ?? -1),
      sessionTimeout: member.sessionTimeout,
      subscription: Buffer.from(member.subscription),
      assignment: Buffer.from(member.assignment),
    })),
  };
}

function exact(v: number, field: string): number {
  if (!Number.isSafeInteger(v)) throw new CoordinatorRecordError(`__consumer_offsets record: ${field} ${v} is outside the exact number range`);
  return v;
}
