import { ErrorCode } from '../errors.js';
import { encodeBatchSync } from './batch-encode.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';

/**
 * Control records: the single record of a control batch (attribute bit 5), written by the
 * broker, never by producers.
 *
 *   key   (4 bytes):  version int16 (0) | type int16
 *   value for ABORT/COMMIT, Kafka's EndTransactionMarker (6 bytes):
 *                     version int16 (0) | coordinatorEpoch int32
 *
 * As in Kafka, a higher version than 0 is read as version 0 (the fields only grow at the
 * end), and a negative version is corruption.
 */

export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const CONTROL_KEY_VERSION = 0;
const CONTROL_KEY_SIZE = 4;
const END_TXN_MARKER_VERSION = 0;
const END_TXN_MARKER_SIZE = 6;

export interface ControlRecordKey {
  version: number;
  /** One of ControlRecordType, or an unknown type id a newer broker wrote. */
  type: number;
}

export interface EndTransactionMarker {
  version: number;
  coordinatorEpoch: number;
}

export function encodeControlRecordKey(type: number): Buffer {
  const key = Buffer.allocUnsafe(CONTROL_KEY_SIZE);
  key.writeInt16BE(CONTROL_KEY_VERSION, 0);
  key.writeInt16BE(type, 2);
  return key;
}

export function decodeControlRecordKey(key: Buffer | null): ControlRecordKey {
  if (key === null || key.length < CONTROL_KEY_SIZE) {
    throw badControl(`control record key has ${key === null ? 'no' : key.length} bytes, needs ${CONTROL_KEY_SIZE}`);
  }
  const version = key.readInt16BE(0);
  if (version < 0) throw badControl(`control record key version ${version} is negative`);
  return { version, type: key.readInt16BE(2) };
}

export function encodeEndTransactionMarker(coordinatorEpoch: number): Buffer {
  const value = Buffer.allocUnsafe(END_TXN_MARKER_SIZE);
  value.writeInt16BE(END_TXN_MARKER_VERSION, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return value;
}

export function decodeEndTransactionMarker(value: Buffer | null): EndTransactionMarker {
  if (value === null || value.length < END_TXN_MARKER_SIZE) {
    throw badControl(`end transaction marker has ${value === null ? 'no' : value.length} bytes, needs ${END_TXN_MARKER_SIZE}`);
  }
  const version = value.readInt16BE(0);
  if (version < 0) throw badControl(`end transaction marker version ${version} is negative`);
  return { version, coordinatorEpoch: value.readInt32BE(2) };
}

export interface ControlBatchOptions {
  /** COMMIT or ABORT. */
  type: typeof ControlRecordType.COMMIT | typeof ControlRecordType.ABORT;
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  timestamp?: number;
}

/**
 * The transaction marker batch the broker appends on EndTxn / WriteTxnMarkers: transactional,
 * control, uncompressed, CreateTime, no sequence, one record (as Kafka's
 * MemoryRecords.withEndTransactionMarker builds it).
 */
export function encodeControlBatch(options: ControlBatchOptions): Buffer {
  return encodeBatchSync({
    baseOffset: options.baseOffset ?? 0,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? -1,
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: -1,
    transactional: true,
    isControl: true,
    timestamp: options.timestamp ?? Date.now(),
    records: [{ key: encodeControlRecordKey(options.type), value: encodeEndTransactionMarker(options.coordinatorEpoch) }],
  });
}

function badControl(message: string): RecordBatchError {
  return new RecordBatchError(RecordBatchErrorCode.BAD_CONTROL_RECORD, message, ErrorCode.CORRUPT_MESSAGE);
}
