/**
 * Feeding producer state from batches: the ones an append writes (from the appended
 * buffer) and the ones a reload replays (from the segment files, Kafka's
 * rebuildProducerState / loadProducersFromRecords).
 *
 * A replay starts at the state's map end offset (the latest snapshot's offset) and reads
 * only what lies after it. Large batches are skipped over: only their 61-byte headers are
 * read (plus the whole of each control batch, one small record). Small batches are read in
 * 64 KiB chunks holding many headers, since one syscall per header cost more than the
 * bytes (20,000 single-header reads took ~0.5 s of a 1,000-partition restart).
 *
 * Transactions a marker completes are moved out of the open set; an ABORT also goes into
 * the `.txnindex` of the marker's segment (a replay skips entries the index already has,
 * so one rebuilt after a crash ends the same as one written live).
 */
import {
  BatchAttributes, BatchLayout, ControlRecordType, batchFrameSize, decodeControlRecordKey, decodeEndTransactionMarker,
  decodeRecordsSync, readInt64,
} from '@tributary/protocol';
import type { LogSegment } from './log-segment.js';
import type { CompletedTxn, ProducerBatch, ProducerStateManager } from './producer-state.js';

/**
 * The producer-state view of the batch at buf[at] (a whole batch for a control batch,
 * at least the header otherwise), or null when it has no producer id or is a control batch
 * other than an end-transaction marker (or an unreadable one: replicated bytes are
 * CRC-checked, and a marker the broker cannot read cannot complete anything).
 */
export function producerBatchAt(buf: Buffer, at: number, bodyAvailable: boolean): ProducerBatch | null | 'need-body' {
  const producerId = readInt64(buf, at + BatchLayout.PRODUCER_ID);
  if (producerId < 0) return null;
  const attributes = buf.readInt16BE(at + BatchLayout.ATTRIBUTES);
  const baseOffset = readInt64(buf, at + BatchLayout.BASE_OFFSET);
  let marker: ProducerBatch['marker'] = null;
  if ((attributes & BatchAttributes.CONTROL) !== 0) {
    if (!bodyAvailable) return 'need-body';
    marker = readMarker(buf, at);
    if (marker === null) return null;
  }
  return {
    producerId,
    producerEpoch: buf.readInt16BE(at + BatchLayout.PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(at + BatchLayout.BASE_SEQUENCE),
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + BatchLayout.LAST_OFFSET_DELTA),
    maxTimestamp: readInt64(buf, at + BatchLayout.MAX_TIMESTAMP),
    isTransactional: (attributes & BatchAttributes.TRANSACTIONAL) !== 0,
    marker,
  };
}

function readMarker(buf: Buffer, at: number): ProducerBatch['marker'] {
  try {
    const size = BatchLayout.LOG_OVERHEAD + buf.readInt32BE(at + BatchLayout.BATCH_LENGTH);
    const records = decodeRecordsSync(buf.subarray(at, at + size), 0);
    const record = records[0];
    if (record === undefined) return null;
    const key = decodeControlRecordKey(record.key);
    if (key.type !== ControlRecordType.ABORT && key.type !== ControlRecordType.COMMIT) return null;
    const value = decodeEndTransactionMarker(record.value);
    return { commit: key.type === ControlRecordType.COMMIT, coordinatorEpoch: value.coordinatorEpoch };
  } catch {
    return null;
  }
}

/**
 * Applies one batch and, when it completes a transaction, records that completion: the
 * ABORT goes into `segment`'s transaction index with the last stable offset after it.
 */
export function applyProducerBatch(state: ProducerStateManager, batch: ProducerBatch, segment: LogSegment): CompletedTxn | null {
  const completed = state.applyBatch(batch);
  if (completed === null) return null;
  if (completed.isAborted) {
    segment.txnIndex.append({
      producerId: completed.producerId,
      firstOffset: completed.firstOffset,
      lastOffset: completed.lastOffset,
      lastStableOffset: state.lastStableOffsetAfter(completed),
    });
  }
  state.completeTxn(completed);
  return completed;
}

/** Chunk read when batches are small; a batch larger than SMALL_BATCH_BYTES gets its header read alone. */
const REPLAY_CHUNK_BYTES = 64 * 1024;
const SMALL_BATCH_BYTES = 16 * 1024;

/** Bytes of the segment files a replay read (tests check that it never reads whole segments). */
export interface ReplayStats {
  batches: number;
  bytesRead: number;
}

/**
 * Replays the batches in [state.mapEndOffset, toOffset) from the segments into the state.
 * Reads headers one batch at a time; control batches whole.
 */
export function replayProducerState(state: ProducerStateManager, segments: readonly LogSegment[], fromOffset: number, toOffset: number): ReplayStats {
  const stats: ReplayStats = { batches: 0, bytesRead: 0 };
  if (fromOffset >= toOffset) return stats;
  let first = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= fromOffset) first = i;
  for (let i = first; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.baseOffset >= toOffset) break;
    let pos = seg.baseOffset >= fromOffset ? 0 : seg.batchPosition(fromOffset);
    if (pos < 0) continue;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkStart = pos;
    let lastSize = 0;
    while (pos + BatchLayout.HEADER_SIZE <= seg.size) {
      let at = pos - chunkStart;
      if (at + BatchLayout.HEADER_SIZE > chunk.length) {
        const want = lastSize > SMALL_BATCH_BYTES ? BatchLayout.HEADER_SIZE : Math.min(REPLAY_CHUNK_BYTES, seg.size - pos);
        chunk = seg.readBytes(pos, want);
        chunkStart = pos;
        at = 0;
        stats.bytesRead += chunk.length;
      }
      const size = batchFrameSize(chunk, at, chunk.length);
      if (typeof size === 'string' || pos + size > seg.size) break;
      lastSize = size;
      const baseOffset = readInt64(chunk, at + BatchLayout.BASE_OFFSET);
      if (baseOffset >= toOffset) return stats;
      let batch = producerBatchAt(chunk, at, at + size <= chunk.length);
      if (batch === 'need-body') {
        const body = seg.readBytes(pos, size);
        stats.bytesRead += body.length;
        batch = producerBatchAt(body, 0, true) as ProducerBatch | null;
      }
      if (batch !== null && batch.lastOffset >= fromOffset) applyProducerBatch(state, batch, seg);
      stats.batches++;
      pos += size;
    }
  }
  return stats;
}
