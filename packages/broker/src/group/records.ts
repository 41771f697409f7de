/**
 * The record formats the classic group coordinator writes into `__consumer_offsets`, byte for
 * byte as Kafka writes them (Kafka's MessageUtil.toVersionPrefixedBytes: an int16 version,
 * then the struct), so Burrow, kafka-consumer-groups and Kafka itself can read our log.
 *
 * Keys (the key version says what the record is):
 *
 *   OffsetCommitKey (version 0 or 1; we write 1)   GroupMetadataKey (version 2)
 *     int16  version                                 int16  version = 2
 *     string group                                   string group
 *     string topic
 *     int32  partition
 *
 * Values (non-flexible versions; "string" is an int16 byte length + UTF-8, -1 = null;
 * "bytes" is an int32 length + bytes; arrays are an int32 count + elements):
 *
 *   OffsetCommitValue                 v0  v1  v2  v3   (we write v3, or v1 when an explicit
 *     int64  offset                   x   x   x   x     expire timestamp was requested, as Kafka)
 *     int32  leaderEpoch                          x
 *     string metadata                 x   x   x   x
 *     int64  commitTimestamp          x   x   x   x
 *     int64  expireTimestamp              x
 *
 *   GroupMetadataValue                v0  v1  v2  v3   (we write v3)
 *     string protocolType             x   x   x   x
 *     int32  generation               x   x   x   x
 *     string protocol (nullable)      x   x   x   x
 *     string leader (nullable)        x   x   x   x
 *     int64  currentStateTimestamp            x   x
 *     array  members:
 *       string memberId               x   x   x   x
 *       string groupInstanceId (null)             x
 *       string clientId               x   x   x   x
 *       string clientHost             x   x   x   x
 *       int32  rebalanceTimeout           x   x   x
 *       int32  sessionTimeout         x   x   x   x
 *       bytes  subscription           x   x   x   x
 *       bytes  assignment             x   x   x   x
 *
 * Version 4 of both values is the first flexible version (compact lengths as unsigned varint
 * length+1 and a tagged-field section after each struct). Kafka 3.x/4.x still writes v3 until a
 * tagged field is used; we read v4 and write v3 likewise.
 *
 * Why hand-written: the generated codecs for the internal-topic formats
 * (`packages/protocol/src/internal/`) did not exist yet. This module keeps the same layout so
 * swapping to them changes no byte on disk.
 */
import { ByteReader, ByteWriter, CoordinatorRecordError } from './byte-io.js';

export const OFFSET_COMMIT_KEY_VERSION = 1;
export const GROUP_METADATA_KEY_VERSION = 2;
export const OFFSET_COMMIT_VALUE_VERSION = 3;
export const GROUP_METADATA_VALUE_VERSION = 3;

export interface OffsetCommitKey {
  type: 'offset';
  group: string;
  topic: string;
  partition: number;
}

export interface GroupMetadataKey {
  type: 'group';
  group: string;
}

export interface UnknownKey {
  type: 'unknown';
  version: number;
}

export type CoordinatorRecordKey = OffsetCommitKey | GroupMetadataKey | UnknownKey;

export interface OffsetCommitValue {
  offset: number;
  /** -1 when unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** -1 when none (everything but v1). */
  expireTimestamp: number;
}

export interface GroupMetadataMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeout: number;
  sessionTimeout: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  /** -1 when unknown (v0, v1). */
  currentStateTimestamp: number;
  members: GroupMetadataMemberValue[];
}

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new ByteWriter()
    .int16(OFFSET_COMMIT_KEY_VERSION)
    .nullableString(group)
    .nullableString(topic)
    .int32(partition)
    .finish();
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return new ByteWriter().int16(GROUP_METADATA_KEY_VERSION).nullableString(group).finish();
}

export function decodeRecordKey(key: Buffer): CoordinatorRecordKey {
  const r = new ByteReader(key, '__consumer_offsets key');
  const version = r.int16('version');
  if (version === 0 || version === 1) {
    const group = r.string('group', false);
    const topic = r.string('topic', false);
    const partition = r.int32('partition');
    return { type: 'offset', group, topic, partition };
  }
  if (version === 2) return { type: 'group', group: r.string('group', false) };
  return { type: 'unknown', version };
}

export function encodeOffsetCommitValue(value: OffsetCommitValue): Buffer {
  const w = new ByteWriter();
  if (value.expireTimestamp !== -1) {
    // Version 1 is the only one that carries an explicit expire timestamp (OffsetCommit v1-v4
    // with a retention time); Kafka writes v1 in that case too.
    return w.int16(1).int64(value.offset).nullableString(value.metadata).int64(value.commitTimestamp).int64(value.expireTimestamp).finish();
  }
  return w
    .int16(OFFSET_COMMIT_VALUE_VERSION)
    .int64(value.offset)
    .int32(value.leaderEpoch)
    .nullableString(value.metadata)
    .int64(value.commitTimestamp)
    .finish();
}

export function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const r = new ByteReader(buf, 'OffsetCommitValue');
  const version = r.int16('version');
  if (version < 0 || version > 4) throw new CoordinatorRecordError(`OffsetCommitValue: unknown version ${version}, expected 0-4`);
  const compact = version >= 4;
  const offset = r.int64('offset');
  const leaderEpoch = version >= 3 ? r.int32('leaderEpoch') : -1;
  const metadata = r.string('metadata', compact);
  const commitTimestamp = r.int64('commitTimestamp');
  const expireTimestamp = version === 1 ? r.int64('expireTimestamp') : -1;
  if (compact) r.skipTaggedFields();
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

export function encodeGroupMetadataValue(value: GroupMetadataValue): Buffer {
  const w = new ByteWriter()
    .int16(GROUP_METADATA_VALUE_VERSION)
    .nullableString(value.protocolType)
    .int32(value.generation)
    .nullableString(value.protocol)
    .nullableString(value.leader)
    .int64(value.currentStateTimestamp)
    .int32(value.members.length);
  for (const m of value.members) {
    w.nullableString(m.memberId)
      .nullableString(m.groupInstanceId)
      .nullableString(m.clientId)
      .nullableString(m.clientHost)
      .int32(m.rebalanceTimeout)
      .int32(m.sessionTimeout)
      .bytes(m.subscription)
      .bytes(m.assignment);
  }
  return w.finish();
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const r = new ByteReader(buf, 'GroupMetadataValue');
  const version = r.int16('version');
  if (version < 0 || version > 4) throw new CoordinatorRecordError(`GroupMetadataValue: unknown version ${version}, expected 0-4`);
  const compact = version >= 4;
  const protocolType = r.string('protocolType', compact);
  const generation = r.int32('generation');
  const protocol = r.nullableString('protocol', compact);
  const leader = r.nullableString('leader', compact);
  const currentStateTimestamp = version >= 2 ? r.int64('currentStateTimestamp') : -1;
  const count = r.arrayLength('members', compact);
  const members: GroupMetadataMemberValue[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string('memberId', compact);
    const groupInstanceId = version >= 3 ? r.nullableString('groupInstanceId', compact) : null;
    const clientId = r.string('clientId', compact);
    const clientHost = r.string('clientHost', compact);
    const rebalanceTimeout = version >= 1 ? r.int32('rebalanceTimeout') : -1;
    const sessionTimeout = r.int32('sessionTimeout');
    // Version 0 had no rebalance timeout: the session timeout played both roles (as Kafka reads it).
    const subscription = r.bytes('subscription', compact);
    const assignment = r.bytes('assignment', compact);
    if (compact) r.skipTaggedFields();
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeout: version === 0 ? sessionTimeout : rebalanceTimeout,
      sessionTimeout,
      subscription,
      assignment,
    });
  }
  if (compact) r.skipTaggedFields();
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}
