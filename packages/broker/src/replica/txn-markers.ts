/**
 * Writing transaction markers into a partition this broker leads (Kafka's
 * ReplicaManager.appendRecords with origin COORDINATOR for WriteTxnMarkers): the
 * coordinator's COMMIT or ABORT for one producer. The log checks the producer and
 * coordinator epochs, appends the control batch, completes the producer's open
 * transaction (an ABORT goes into the aborted-transaction index) and the last stable
 * offset moves once the marker is below the high watermark; waiting fetches wake.
 *
 * Errors are Kafka's per-partition codes: UNKNOWN_TOPIC_OR_PARTITION /
 * NOT_LEADER_OR_FOLLOWER from the partition lookup, INVALID_PRODUCER_EPOCH for an older
 * producer epoch, TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch,
 * KAFKA_STORAGE_ERROR when the log directory failed.
 */
import { ErrorCode } from '@tributary/protocol';
import { StorageError } from '@tributary/storage';
import type { ReplicaManager } from './replica-manager.js';

export interface TxnMarkerResult {
  errorCode: number;
  errorMessage: string | null;
  /** The marker's offset, -1 when nothing was appended. */
  offset: number;
}

export function appendTxnMarker(
  replicaManager: ReplicaManager, topic: string, partition: number,
  producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean,
): TxnMarkerResult {
  const view = replicaManager.partition(topic, partition);
  if ('errorCode' in view) return { errorCode: view.errorCode, errorMessage: null, offset: -1 };
  const { log } = view;
  let result;
  try {
    result = log.appendEndTxnMarker({ producerId, producerEpoch, coordinatorEpoch, commit, leaderEpoch: view.state.leaderEpoch });
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message, offset: -1 };
  }
  if (result.kind === 'error') return { errorCode: result.errorCode, errorMessage: result.message, offset: -1 };
  replicaManager.appended(log);
  return { errorCode: ErrorCode.NONE, errorMessage: null, offset: result.append.baseOffset };
}
