// Public surface of @tributary/storage.
export { StorageError, StorageErrorCode } from './errors.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { ConfigDef, ConfigType, ConfigValue, DynamicUpdateMode, Importance } from './config-def.js';
export {
  ConfigError, ConfigTypes, INT_MAX_VALUE, KAFKA_LONG_MAX_TEXT, LONG_MAX_VALUE, formatConfigValue, parseConfigValue,
} from './config-def.js';
export type { BrokerSynonym, CleanupPolicy, CompressionType, LogBrokerKeyTypes, LogConfig, LogConfigDef } from './log-config.js';
export {
  COMPRESSION_TYPES, DEFAULT_LOG_CONFIG, LOG_CONFIG_DEFS, LOG_CONFIG_DEF_BY_NAME, TimestampType, brokerValueToTopicValue,
  fromProperties, logConfigOf, parseLogConfigOverrides, parseStoredLogConfigOverrides, toProperties, withLogConfigOverrides,
} from './log-config.js';
export {
  LOG_START_OFFSET_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  REPLICATION_OFFSET_CHECKPOINT,
  checkpointKey,
  formatCheckpoint,
  fsyncDir,
  parseCheckpoint,
  readCheckpointFile,
  writeCheckpointFile,
  writeFileDurably,
} from './checkpoint-file.js';
export { offsetFileName, parsePartitionDirName, partitionDirName } from './file-names.js';
export type { AppendOptions, AppendResult, LogListener, ReadOptions, ReadResult } from './log.js';
export { Log } from './log.js';
export type { RecentRead } from './recent-appends.js';
export { CHUNK_BYTES_MAX as RECENT_APPENDS_CHUNK_BYTES_MAX, ChunkHolds, RecentAppends, RecentAppendsBudget, assembleRecords, chunkPool, isRecentAppendsBuffer } from './recent-appends.js';
export type { EpochEndOffset, EpochEntry } from './leader-epoch-cache.js';
export {
  LEADER_EPOCH_CHECKPOINT, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint,
} from './leader-epoch-cache.js';
export type { LogSegment } from './log-segment.js';
export { OffsetIndex } from './offset-index.js';
export { TimeIndex } from './time-index.js';
export type { TimestampAndOffset } from './log-offsets.js';
export { maxTimestampOffset, offsetForTimestamp } from './log-offsets.js';
export { deleteOldSegments } from './log-retention.js';
export type { LoadLogOptions, LoadStats } from './log-loader.js';
export { loadLog } from './log-loader.js';
export type { FsyncMode } from './group-commit.js';
export type { Decompressor } from './record-timestamps.js';
export type { LogManagerOptions, OpenStats, StorageLogger } from './log-manager.js';
export { CLEAN_SHUTDOWN_FILE, LogManager } from './log-manager.js';
export type { FileSystem } from './file-system.js';
export { isIoError, isNoSpace, nodeFileSystem } from './file-system.js';
export type { EndTxnMarker, EndTxnMarkerResult } from './log.js';
export type { BatchMetadata, CompletedTxn, ProducerAppendCheck, ProducerBatch, ProducerStateEntry } from './producer-state.js';
export {
  BATCHES_TO_RETAIN, DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS, DEFAULT_PRODUCER_ID_EXPIRATION_MS, ProducerStateManager,
} from './producer-state.js';
export type { SnapshotEntry } from './producer-state-snapshot.js';
export { SNAPSHOT_FILE_SUFFIX, decodeSnapshot, encodeSnapshot, parseSnapshotFileName, snapshotFileOf } from './producer-state-snapshot.js';
export type { ReplayStats } from './producer-state-loader.js';
export type { AbortedTxn } from './txn-index.js';
export { ABORTED_TXN_SIZE, TXN_INDEX_FILE_SUFFIX, TxnIndex } from './txn-index.js';
export type { CleanStats, CleanableLog, CleanerConfig, CleanerCounters, CleanerHost } from './log-cleaner.js';
export { CLEANER_OFFSET_CHECKPOINT, DEFAULT_CLEANER_CONFIG, LogCleaner, cleanableLog } from './log-cleaner.js';
export type { CleanResult, CleanTask, CleanedGroup } from './log-cleaner-core.js';
export { cleanLog, groupSegments } from './log-cleaner-core.js';
export { OffsetMap } from './log-cleaner-offset-map.js';
