/**
 * Writing transaction markers (Kafka's TransactionMarkerChannelManager): once PrepareCommit or
 * PrepareAbort is durable in `__transaction_state`, every partition of the transaction gets a
 * COMMIT or ABORT control batch from the producer, and for `__consumer_offsets` partitions the
 * group coordinator materializes or drops the transaction's pending offsets.
 *
 * The coordinator talks to a TxnMarkerWriter, not to the replica manager: in a broker it is
 * marker-channel.ts, which sends WriteTxnMarkers to the partitions' leaders (grouped by
 * broker, as Kafka does) and hands partitions this broker leads to LocalTxnMarkerWriter.
 * LocalTxnMarkerWriter appends directly; it is also what the WriteTxnMarkers handler calls.
 */
import { ErrorCode } from '@tributary/protocol';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { TopicPartitionRef } from './transaction-metadata.js';

export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

export interface TxnMarker {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly coordinatorEpoch: number;
  readonly commit: boolean;
  readonly partitions: readonly TopicPartitionRef[];
}

export interface TxnMarkerWriter {
  /** Writes the marker to every partition; resolves to an error code per partition, in order. */
  write(marker: TxnMarker): Promise<number[]>;
}

/** What a marker on a `__consumer_offsets` partition means to the group coordinator. */
export interface TxnOffsetsCompletion {
  completeTxnOffsets(offsetsPartition: number, producerId: number, commit: boolean): void;
}

export class LocalTxnMarkerWriter implements TxnMarkerWriter {
  constructor(
    private readonly replicaManager: ReplicaManager,
    private readonly offsets: TxnOffsetsCompletion,
  ) {}

  write(marker: TxnMarker): Promise<number[]> {
    return Promise.all(
      marker.partitions.map(async ({ topic, partition }) => {
        const { errorCode: code } = await this.replicaManager.appendTxnMarker(topic, partition, marker.producerId, marker.producerEpoch, marker.coordinatorEpoch, marker.commit);
        // The offsets become visible (or are dropped) when the marker is in the log, as Kafka's
        // GroupCoordinator.scheduleHandleTxnCompletion runs after the marker append.
        if (code === ErrorCode.NONE && topic === CONSUMER_OFFSETS_TOPIC) this.offsets.completeTxnOffsets(partition, marker.producerId, marker.commit);
        return code;
      }),
    );
  }
}
