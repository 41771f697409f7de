/**
 * Rebuilds the groups of one `__consumer_offsets` partition by replaying its records, as
 * Kafka's GroupMetadataManager.doLoadGroupsAndOffsets does: the last record per key wins, a
 * tombstone deletes, offsets without group metadata form "simple" groups (Empty, no protocol
 * type), and a group with members comes back Stable (members must heartbeat within their
 * session timeout, or they are removed and the group rebalances).
 *
 * A record that does not decode (a foreign or newer format) is logged and skipped rather than
 * failing the whole partition (replayCoordinatorPartition, shared with the transaction
 * coordinator): the broker keeps serving every other group.
 */
import { ClassicGroup, type CommittedOffset } from './classic-group.js';
import { GroupState } from './group-state.js';
import { ClassicMember } from './member.js';
import type { GroupStore } from './group-store.js';
import type { Membership } from './membership.js';
import { decodeCoordinatorRecord, type GroupMetadataValue } from './records.js';
import { replayCoordinatorPartition } from './coordinator-partitions.js';

export interface LoadSummary {
  partition: number;
  records: number;
  skipped: number;
  groups: number;
  offsets: number;
}

/** An offset of a transaction whose marker is not in the log yet (TxnOffsetCommit). */
export type OpenTxnOffsetHandler = (producerId: number, groupId: string, topic: string, partition: number, committed: CommittedOffset) => void;

export async function loadGroupsAndOffsets(store: GroupStore, membership: Membership, partition: number, onOpenTxnOffset?: OpenTxnOffsetHandler): Promise<LoadSummary> {
  const offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  const groupValues = new Map<string, GroupMetadataValue>();
  const replayed = await replayCoordinatorPartition(store.log, partition, { topic: '__consumer_offsets', logger: store.logger }, (keyBytes, valueBytes) => {
    const record = decodeCoordinatorRecord(keyBytes, valueBytes);
    if (record.type === 'offset') {
      let byTopic = offsets.get(record.group);
      if (byTopic === undefined) offsets.set(record.group, (byTopic = new Map()));
      let byPartition = byTopic.get(record.topic);
      if (record.value === null) {
        byPartition?.delete(record.partition);
        return;
      }
      if (byPartition === undefined) byTopic.set(record.topic, (byPartition = new Map()));
      byPartition.set(record.partition, { ...record.value, seq: store.nextSeq() });
    } else if (record.type === 'group') {
      if (record.value === null) groupValues.delete(record.group);
      else groupValues.set(record.group, record.value);
    } else {
      store.logger.warn('unknown __consumer_offsets key version; ignoring the record', { partition, version: record.recordType });
      return false;
    }
  }, (producerId, keyBytes, valueBytes) => {
    const record = decodeCoordinatorRecord(keyBytes, valueBytes);
    if (record.type === 'offset' && record.value !== null) onOpenTxnOffset?.(producerId, record.group, record.topic, record.partition, { ...record.value, seq: store.nextSeq() });
  });
  const records = replayed.records;
  let skipped = replayed.skipped;

  const now = store.now();
  const loaded: ClassicGroup[] = [];
  for (const [groupId, value] of groupValues) {
    const group = groupFromValue(groupId, value, now);
    if (group === null) {
      skipped += 1;
      store.logger.error('inconsistent group metadata (members without protocol, or a duplicate static member); ignoring it', { partition, groupId });
      continue;
    }
    loaded.push(group);
  }
  for (const [groupId, byTopic] of offsets) {
    // Only groups with offsets left after tombstones exist (Kafka keys its load by partition).
    const hasOffsets = [...byTopic.values()].some((byPartition) => byPartition.size > 0);
    if (!groupValues.has(groupId) && hasOffsets) loaded.push(new ClassicGroup(groupId, GroupState.Empty, now));
  }

  let offsetCount = 0;
  for (const group of loaded) {
    for (const [topic, byPartition] of offsets.get(group.groupId) ?? []) {
      for (const [p, committed] of byPartition) {
        group.putOffset(topic, p, committed);
        offsetCount += 1;
      }
    }
    // A group already in the cache (created by a request during the load) wins, as in Kafka.
    if (store.groups.has(group.groupId)) continue;
    store.groups.set(group.groupId, group);
    membership.onGroupLoaded(group);
  }
  return { partition, records, skipped, groups: loaded.length, offsets: offsetCount };
}

function groupFromValue(groupId: string, value: GroupMetadataValue, now: number): ClassicGroup | null {
  if (value.members.length > 0 && value.protocol === null) return null;
  const group = new ClassicGroup(groupId, value.members.length > 0 ? GroupState.Stable : GroupState.Empty, now);
  group.generationId = value.generation;
  group.protocolName = value.protocol;
  group.currentStateTimestamp = value.currentStateTimestamp === -1 ? null : value.currentStateTimestamp;
  for (const m of value.members) {
    if (m.groupInstanceId !== null && group.staticMembers.has(m.groupInstanceId)) return null;
    const member = new ClassicMember(
      m.memberId,
      m.groupInstanceId,
      m.clientId,
      m.clientHost,
      m.rebalanceTimeout,
      m.sessionTimeout,
      value.protocolType,
      [{ name: value.protocol!, metadata: m.subscription }],
      m.assignment,
    );
    group.add(member, null);
  }
  // add() sets the protocol type and makes the first member leader; the record has the real ones.
  group.protocolType = value.protocolType === '' ? null : value.protocolType;
  group.leaderId = value.leader;
  group.subscribedTopics = group.computeSubscribedTopics();
  return group;
}
