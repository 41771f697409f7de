/**
 * ListOffsets (api key 2), versions 0-9.
 *
 * Behaviour (Kafka's ReplicaManager.fetchOffset / UnifiedLog.fetchOffsetByTimestamp):
 * - timestamp -1 (LATEST): the high watermark (read_uncommitted) or the last stable offset
 *   (read_committed, equal while there are no transactions); timestamp in the answer -1.
 * - -2 (EARLIEST), -4 (EARLIEST_LOCAL, v8+), -5 (EARLIEST_TIERED, v9): the log start offset
 *   (there is no tiered storage, so all three are the same).
 * - -3 (MAX_TIMESTAMP, v7+): the offset and timestamp of the record with the largest
 *   timestamp.
 * - Any other timestamp: the first offset whose record timestamp is >= it (time index,
 *   then a scan), or offset -1 / timestamp -1 when there is none below the high watermark.
 * - currentLeaderEpoch (v4+) is checked like Fetch does (before leadership, as Kafka's
 *   localLogWithEpochOrThrow); a partition listed twice gets INVALID_REQUEST, as in Kafka.
 * - leaderEpoch (v4+) of the answer, from the leader-epoch cache as Kafka's
 *   fetchOffsetByTimestamp: LATEST the partition's current epoch; EARLIEST the first
 *   cached epoch when it starts at or before the log start offset (else -1); EARLIEST_LOCAL,
 *   MAX_TIMESTAMP and timestamps the epoch of the batch holding the offset; -1 with offset -1.
 * v0 answers with old-style offset arrays (list-offsets-legacy.ts); Kafka 4 no longer serves
 * it (KIP-896), Tributary keeps it for old clients.
 */
import { ApiKey, ErrorCode, type ListOffsetsResponseListOffsetsPartitionResponse } from '@tributary/protocol';
import { StorageError, maxTimestampOffset, offsetForTimestamp } from '@tributary/storage';
import type { Handler, RequestContext } from './registry.js';
import { legacyListOffsets } from './list-offsets-legacy.js';
import { checkCurrentLeaderEpoch, notLeaderError } from '../replica/leader-epochs.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const EARLIEST_TIERED = -5;
const READ_COMMITTED = 1;

export const listOffsetsHandler: Handler<'ListOffsets'> = {
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 9,

  handle(req, ctx) {
    const isolation = req.isolationLevel ?? 0;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => {
        // Kafka: DESCRIBE on the topic, else every partition TOPIC_AUTHORIZATION_FAILED.
        if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t.name)) {
          return { name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) };
        }
        const seen = new Map<number, number>();
        for (const p of t.partitions) seen.set(p.partitionIndex, (seen.get(p.partitionIndex) ?? 0) + 1);
        return {
          name: t.name,
          partitions: t.partitions.map((p) =>
            (seen.get(p.partitionIndex) ?? 0) > 1
              ? failed(p.partitionIndex, ErrorCode.INVALID_REQUEST)
              : ctx.header.apiVersion === 0
                ? legacyListOffsets(ctx, t.name, p.partitionIndex, p.timestamp, p.maxNumOffsets ?? 1, req.replicaId)
                : lookup(ctx, t.name, p.partitionIndex, p.timestamp, p.currentLeaderEpoch ?? -1, isolation, req.replicaId),
          ),
        };
      }),
    };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, errorCode)) })) };
  },
};

function failed(partitionIndex: number, errorCode: number): ListOffsetsResponseListOffsetsPartitionResponse {
  return { partitionIndex, errorCode, timestamp: -1, offset: -1, leaderEpoch: -1 };
}

function lookup(ctx: RequestContext, topic: string, partition: number, timestamp: number, currentLeaderEpoch: number, isolation: number, replicaId: number): ListOffsetsResponseListOffsetsPartitionResponse {
  try {
    return lookupInLog(ctx, topic, partition, timestamp, currentLeaderEpoch, isolation, replicaId);
  } catch (err) {
    // A time lookup's read failed: storage has taken the log directory offline (and said so).
    if (err instanceof StorageError) return failed(partition, ErrorCode.KAFKA_STORAGE_ERROR);
    throw err;
  }
}

function lookupInLog(ctx: RequestContext, topic: string, partition: number, timestamp: number, currentLeaderEpoch: number, isolation: number, replicaId: number): ListOffsetsResponseListOffsetsPartitionResponse {
  const view = ctx.broker.replicaManager.partition(topic, partition);
  if ('errorCode' in view) {
    const state = ctx.broker.metadata.topic(topic)?.partitions[partition];
    return failed(partition, view.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER && state !== undefined ? notLeaderError(currentLeaderEpoch, state, ctx.broker.nodeId) : view.errorCode);
  }
  const { log, state } = view;
  const fenced = checkCurrentLeaderEpoch(currentLeaderEpoch, state);
  if (fenced !== ErrorCode.NONE) return failed(partition, fenced);
  const cache = log.leaderEpochCache;
  const found = (offset: number, ts: number, leaderEpoch = cache.epochForOffset(offset)): ListOffsetsResponseListOffsetsPartitionResponse =>
    offset < 0 ? { partitionIndex: partition, errorCode: ErrorCode.NONE, timestamp: -1, offset: -1, leaderEpoch: -1 } : { partitionIndex: partition, errorCode: ErrorCode.NONE, timestamp: ts, offset, leaderEpoch };
  // Consumers see up to the high watermark (or LSO); replicas up to the log end.
  const upperBound = replicaId >= 0 ? log.logEndOffset : isolation === READ_COMMITTED ? log.lastStableOffset : log.highWatermark;
  switch (timestamp) {
    case LATEST:
      return found(upperBound, -1, state.leaderEpoch);
    case EARLIEST:
    case EARLIEST_TIERED: {
      const first = cache.epochEntries()[0];
      return found(log.logStartOffset, -1, first !== undefined && first.startOffset <= log.logStartOffset ? first.epoch : -1);
    }
    case EARLIEST_LOCAL:
      return found(log.logStartOffset, -1);
    case MAX_TIMESTAMP: {
      const max = maxTimestampOffset(log);
      if (max === null || max.offset >= upperBound) return found(-1, -1);
      return found(max.offset, max.timestamp);
    }
    default: {
      if (timestamp < 0) return failed(partition, ErrorCode.INVALID_REQUEST);
      const at = offsetForTimestamp(log, timestamp);
      if (at === null || at.offset >= upperBound) return found(-1, -1);
      return found(at.offset, at.timestamp);
    }
  }
}
