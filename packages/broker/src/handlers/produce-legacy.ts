/**
 * Produce v0-2: the message sets of message formats v0/v1 (magic 0/1) that these versions
 * carry are converted to one v2 batch per partition before the ordinary append path
 * (validation, offsets, acks) runs on it, as Kafka 3.x does with message.format.version
 * 3.0 (LogValidator converts up). A partition whose set already holds a v2 batch is passed
 * through unchanged: Kafka does not check the magic against old request versions either.
 *
 * Conversion runs synchronously, before the partition's append takes its place in the
 * queue, so that appends stay in request order; for gzip that costs event-loop time, paid
 * only by old producers.
 */
import { ErrorCode, TimestampType, isLegacyMessageSet, legacyMessageSetToBatch } from '@tributary/protocol';
import type { AppendRequest, PartitionAppendResult, ReplicaManager } from '../replica/replica-manager.js';

/** Kafka answers these without a message or log start offset (as ReplicaManager does). */
const UNKNOWN_APPEND_INFO_ERRORS = new Set<number>([ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE]);

export function appendLegacy(replicaManager: ReplicaManager, req: AppendRequest): PartitionAppendResult | Promise<PartitionAppendResult> {
  const records = req.records;
  if (records === null || !isLegacyMessageSet(records)) return replicaManager.append(req);
  const view = replicaManager.partition(req.topic, req.partition);
  // Unknown topic, not leader, internal topic: the append path answers those.
  if ('errorCode' in view || view.topic.internal) return replicaManager.append(req);
  const config = view.log.config;
  const converted = legacyMessageSetToBatch(records, {
    topicTimestampType: config.messageTimestampType === 'LogAppendTime' ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
  });
  if (!converted.ok) {
    if (UNKNOWN_APPEND_INFO_ERRORS.has(converted.errorCode)) {
      return { errorCode: converted.errorCode, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
    }
    return { errorCode: converted.errorCode, errorMessage: converted.message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: view.log.logStartOffset, recordErrors: [] };
  }
  const batchAppend: AppendRequest = { ...req, records: converted.batch };
  const result = replicaManager.append(batchAppend);
  if (batchAppend.written === true) req.written = true;
  return result;
}
