/**
 * Idempotent-producer state of one partition: for each producer id, its epoch and the
 * sequence ranges of its last five appended batches (Kafka's NUM_BATCHES_TO_RETAIN, which
 * matches the client's max.in.flight.requests.per.connection limit of five for
 * idempotence).
 *
 * The rules are Kafka's ProducerAppendInfo.checkSequence:
 * - a batch whose sequence range equals a retained one is a duplicate: answered with the
 *   original offsets and not appended again;
 * - a new epoch must start at sequence 0 (unless the producer is unknown);
 * - within an epoch, the first sequence must follow the last one (wrapping at 2^31);
 * - a producer the partition has no state for is accepted at any sequence (its state may
 *   have been removed by retention or DeleteRecords).
 *
 * State is rebuilt from the batch headers of the partition's last segment when the
 * partition is first used after start-up, so duplicates are still detected across a
 * restart for batches in that segment. Kafka keeps producer-state snapshot files instead.
 */
import { ErrorCode, INT32_MAX, assertAtMost, assertBelow, readBatchHeader } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { forEachLogBatch } from './log-batches.js';

const BATCHES_TO_RETAIN = 5;

interface RetainedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: RetainedBatch[];
}

export type SequenceCheck =
  | { kind: 'ok' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; errorCode: number; message: string };

const OK: SequenceCheck = { kind: 'ok' };

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  /** Reads the producer ids and sequences of the batches in the log's active segment. */
  static rebuild(log: Log): ProducerStateTable {
    const table = new ProducerStateTable();
    // Bounded: one segment at most, read in 1 MiB steps.
    forEachLogBatch(log, Math.max(log.activeSegment.baseOffset, log.logStartOffset), 1024 * 1024, (buf, at) => {
      const h = readBatchHeader(buf, at);
      if (h.producerId >= 0 && !h.isControl && h.baseSequence >= 0) {
        table.record(h.producerId, h.producerEpoch, h.baseSequence, h.baseSequence + h.lastOffsetDelta, h.baseOffset, h.baseOffset + h.lastOffsetDelta);
      }
    });
    return table;
  }

  check(producerId: number, epoch: number, firstSeq: number, lastOffsetDelta: number): SequenceCheck {
    const entry = this.producers.get(producerId);
    if (entry === undefined) return OK;
    if (epoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Producer ${producerId}'s epoch ${epoch} is older than the current epoch ${entry.epoch}` };
    }
    const lastSeq = wrap(firstSeq + lastOffsetDelta);
    if (epoch === entry.epoch) {
      for (const b of entry.batches) {
        if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', baseOffset: b.baseOffset };
      }
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) {
        return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Invalid sequence number for new epoch of producer ${producerId}: ${epoch} (request epoch), ${firstSeq} (seq. number), ${entry.epoch} (current producer epoch)` };
      }
      return OK;
    }
    const last = entry.batches[entry.batches.length - 1];
    const currentLastSeq = last === undefined ? -1 : last.lastSeq;
    const inSequence = currentLastSeq === -1 || firstSeq === wrap(currentLastSeq + 1);
    if (!inSequence) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Out of order sequence number for producer ${producerId}: found ${firstSeq} (incoming seq. number), ${currentLastSeq} (current end sequence number)` };
    }
    return OK;
  }

  /**
   * Records an appended batch: one `check` accepted, or one read back from the log in log
   * order. Either way the producer's epoch does not go back and its batches' offsets grow.
   */
  record(producerId: number, epoch: number, firstSeq: number, lastSeq: number, baseOffset: number, lastOffset: number): void {
    let entry = this.producers.get(producerId);
    if (entry !== undefined) assertAtMost(entry.epoch, epoch, 'an appended batch never has an older producer epoch');
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    const previous = entry.batches[entry.batches.length - 1];
    if (previous !== undefined) assertBelow(previous.lastOffset, baseOffset, 'a producer\'s batches are appended at increasing offsets');
    entry.batches.push({ firstSeq, lastSeq: wrap(lastSeq), baseOffset, lastOffset });
    if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
  }

  get size(): number {
    return this.producers.size;
  }
}

function wrap(seq: number): number {
  return seq > INT32_MAX ? seq - INT32_MAX - 1 : seq;
}
