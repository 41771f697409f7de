/**
 * Version-dependent error codes of the transaction APIs. KIP-588 introduced PRODUCER_FENCED;
 * a client older than the version that knows it gets INVALID_PRODUCER_EPOCH instead, which
 * every transactional client treats as fatal fencing (Kafka's KafkaApis does the same per API).
 */
import { ErrorCode } from '@tributary/protocol';

/** First version of each API whose clients understand PRODUCER_FENCED. */
export const PRODUCER_FENCED_MIN_VERSION = {
  InitProducerId: 4,
  AddPartitionsToTxn: 2,
  AddOffsetsToTxn: 2,
  EndTxn: 2,
} as const;

export function fencedForVersion(errorCode: number, version: number, minVersion: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && version < minVersion ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}
