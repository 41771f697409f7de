/**
 * ListOffsets v0: the old-style answer, a descending array of up to `maxNumOffsets` offsets
 * taken from segment boundaries (Kafka's UnifiedLog.legacyFetchOffsetsBefore and
 * Partition.legacyFetchOffsetsForTimestamp), which Sarama and other clients set to an old
 * protocol version still use to find the oldest and newest offsets:
 * - the candidates are each segment's base offset (at least the log start offset), paired
 *   with the segment file's last-modified time, plus the log end offset paired with now
 *   when the active segment holds data;
 * - LATEST (-1) starts from the last candidate, EARLIEST (-2) from the first, any other
 *   timestamp from the last candidate whose time is <= it (none: an empty array);
 * - from there up to maxNumOffsets candidates are returned, newest first;
 * - consumers (replicaId -1) never see offsets past the high watermark: if any is, the
 *   high watermark heads the list instead of them.
 * A negative maxNumOffsets fails the partition with UNKNOWN_SERVER_ERROR, as the array
 * allocation in Kafka does.
 */
import { statSync } from 'node:fs';
import { ErrorCode, type ListOffsetsResponseListOffsetsPartitionResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import type { RequestContext } from './registry.js';

const LATEST = -1;
const EARLIEST = -2;
const CONSUMER_REPLICA_ID = -1;

export function legacyListOffsets(ctx: RequestContext, topic: string, partition: number, timestamp: number, maxNumOffsets: number, replicaId: number): ListOffsetsResponseListOffsetsPartitionResponse {
  const view = ctx.broker.replicaManager.partition(topic, partition);
  if ('errorCode' in view) return failed(partition, view.errorCode);
  if (maxNumOffsets < 0) return failed(partition, ErrorCode.UNKNOWN_SERVER_ERROR);
  const offsets = offsetsBefore(view.log, timestamp, maxNumOffsets);
  let result = offsets;
  if (replicaId === CONSUMER_REPLICA_ID) {
    const hw = view.log.highWatermark;
    if (offsets.some((o) => o > hw)) result = [hw, ...offsets.filter((o) => o <= hw)];
  }
  return { partitionIndex: partition, errorCode: ErrorCode.NONE, oldStyleOffsets: result, timestamp: -1, offset: -1, leaderEpoch: -1 };
}

function failed(partitionIndex: number, errorCode: number): ListOffsetsResponseListOffsetsPartitionResponse {
  return { partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 };
}

function offsetsBefore(log: Log, timestamp: number, maxNumOffsets: number): number[] {
  const segments = log.segments;
  const candidates: { offset: number; timeMs: () => number }[] = segments.map((seg) => ({
    offset: Math.max(seg.baseOffset, log.logStartOffset),
    timeMs: () => lastModifiedMs(seg.logFile, seg.createdMs),
  }));
  const now = Date.now();
  if (segments[segments.length - 1]!.size > 0) candidates.push({ offset: log.logEndOffset, timeMs: () => now });
  let start: number;
  if (timestamp === LATEST) start = candidates.length - 1;
  else if (timestamp === EARLIEST) start = 0;
  else {
    start = candidates.length - 1;
    while (start >= 0 && candidates[start]!.timeMs() > timestamp) start--;
  }
  const out: number[] = [];
  for (let i = start; i >= 0 && out.length < maxNumOffsets; i--) out.push(candidates[i]!.offset);
  return out.sort((a, b) => b - a);
}

/** The segment file's mtime, as Kafka's LogSegment.lastModified; its creation time if it is gone. */
function lastModifiedMs(file: string, fallbackMs: number): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return fallbackMs;
  }
}
