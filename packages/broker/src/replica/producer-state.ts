/**
 * Compatibility shim: producer state moved into storage (`Log.producerState`, Kafka's
 * ProducerStateManager in packages/storage/src/producer-state.ts), where snapshots,
 * truncation, expiry and transactions keep it. This keeps the old broker-side call shape
 * (`ProducerStateTable.rebuild(log).check(...)` then `record(...)`) working for code written
 * against it: `check` asks the log's state, and `record` does nothing because the log
 * records every appended batch itself. New code calls `log.producerState.checkAppend`.
 */
import type { Log } from '@tributary/storage';

export type SequenceCheck =
  | { kind: 'ok' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; errorCode: number; message: string };

export class ProducerStateTable {
  private constructor(private readonly log: Log) {}

  static rebuild(log: Log): ProducerStateTable {
    return new ProducerStateTable(log);
  }

  /** `isTransactional` defaults to true: the old signature did not carry it, so INVALID_TXN_STATE is not checked. */
  check(producerId: number, epoch: number, firstSeq: number, lastOffsetDelta: number, isTransactional = true): SequenceCheck {
    const c = this.log.producerState.checkAppend(producerId, epoch, firstSeq, lastOffsetDelta, isTransactional);
    return c.kind === 'duplicate' ? { kind: 'duplicate', baseOffset: c.firstOffset } : c;
  }

  /** The log updates its producer state on append; nothing to do (the old arguments are accepted and ignored). */
  record(..._batch: number[]): void {}

  get size(): number {
    return this.log.producerState.size;
  }
}
