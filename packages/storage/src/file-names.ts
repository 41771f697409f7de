/**
 * On-disk names, matching Kafka's so operators' habits and tools carry over:
 *
 *   <dataDir>/<topic>-<partition>/                    partition directory
 *   <dataDir>/<topic>-<partition>.<uuid>-delete/      partition awaiting removal (topic deleted)
 *   00000000000000000042.log | .index | .timeindex    segment named by its 20-digit base offset
 *   *.deleted                                         segment files awaiting removal
 *   *.cleaned, *.tmp                                  leftovers of interrupted work, removed on load
 *   *.swap                                            a cleaned segment being swapped in: completed on load
 */
import { INT32_MAX, isValidTopicName } from '@tributary/protocol';
import { StorageError, StorageErrorCode } from './errors.js';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const DELETED_FILE_SUFFIX = '.deleted';
/** A segment the log cleaner is writing; removed on load. */
export const CLEANED_FILE_SUFFIX = '.cleaned';
/** A cleaned segment being swapped in; on load the swap is completed (log-loader.ts). */
export const SWAP_FILE_SUFFIX = '.swap';
export const DELETE_DIR_SUFFIX = '-delete';

// The topic part is checked with protocol's isValidTopicName (Kafka's rule, whose 249
// characters leave room for `-<partition>.<uuid>-delete` within 255).
const PARTITION_DIR_RE = /^(.+)-(\d{1,10})$/;
const DELETE_DIR_RE = /^(.+)-(\d{1,10})\.([0-9a-f]{32})-delete$/;
const SEGMENT_FILE_RE = /^(\d{20})\.(log|index|timeindex)$/;

export function offsetFileName(offset: number, suffix: string): string {
  return String(offset).padStart(20, '0') + suffix;
}

export function checkPartitionName(topic: string, partition: number): void {
  if (!isValidTopicName(topic)) {
    throw new StorageError(StorageErrorCode.INVALID_PARTITION_NAME, `Topic name ${JSON.stringify(topic)} is not a legal Kafka topic name`);
  }
  if (!Number.isInteger(partition) || partition < 0 || partition > INT32_MAX) {
    throw new StorageError(StorageErrorCode.INVALID_PARTITION_NAME, `Partition ${partition} of topic ${topic} is not an int32 >= 0`);
  }
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export interface ParsedDirName { topic: string; partition: number; deleted: boolean }

/** Parses a partition directory name; null when it is not one (other files live in the data dir too). */
export function parsePartitionDirName(name: string): ParsedDirName | null {
  const del = DELETE_DIR_RE.exec(name);
  if (del !== null) return isValidTopicName(del[1]!) ? { topic: del[1]!, partition: Number(del[2]), deleted: true } : null;
  const m = PARTITION_DIR_RE.exec(name);
  if (m === null || !isValidTopicName(m[1]!)) return null;
  const partition = Number(m[2]);
  if (partition > INT32_MAX) return null;
  return { topic: m[1]!, partition, deleted: false };
}

export interface ParsedSegmentFile { baseOffset: number; kind: 'log' | 'index' | 'timeindex' }

export function parseSegmentFileName(name: string): ParsedSegmentFile | null {
  const m = SEGMENT_FILE_RE.exec(name);
  if (m === null) return null;
  const baseOffset = Number(m[1]);
  if (!Number.isSafeInteger(baseOffset)) return null;
  return { baseOffset, kind: m[2] as ParsedSegmentFile['kind'] };
}
