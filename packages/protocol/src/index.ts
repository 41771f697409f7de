// Public surface of @tributary/protocol. Everything other packages use is re-exported here.
export * from './records/batch-layout.js';
export * from './codec/index.js';
export * from './messages/index.js';
export * from './errors.js';
export * from './records/crc32c.js';
export * from './records/batch-constants.js';
export * from './records/record-batch-error.js';
export * from './records/batch-header.js';
export * from './records/batch-patch.js';
export * from './records/batch-validate.js';
export * from './records/batch-encode.js';
export * from './records/batch-decode.js';
export * from './records/control-record.js';
export * from './records/legacy-message-set.js';
export type { KafkaRecord, DecodedRecord, RecordInput, RecordHeader } from './records/record-codec.js';
export * from './compression/codec.js';
export * from './compression/compression-error.js';
export * from './internal/index.js';
