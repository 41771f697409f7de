/**
 * The replica manager owns this broker's partitions: it keeps the storage logs in step
 * with the metadata store, runs the produce path (validate, sequence-check, append,
 * acks) and wakes long-polling fetches when data arrives.
 *
 * Single node: this broker is leader of every partition and the ISR is {this broker},
 * so the high watermark moves to the log end offset as soon as an append is written.
 * Appends are synchronous writes into the page cache, which survive kill -9; with
 * `flush.durable.acks` an acks=all produce is answered only after fdatasync (group commit,
 * in storage) for power-loss safety.
 *
 * Ordering: a Produce request may wait for validation (decompression runs off-thread),
 * and requests on one connection are processed concurrently, so each partition has an
 * append queue. A request takes its place in the queue synchronously, in arrival order,
 * before its first await; the append itself then happens in that order whatever order
 * validations finish in.
 */
import {
  ErrorCode,
  assertAtMost,
  setMaxTimestamp,
  validateBatch,
  validateBatchSync,
  type BatchValidation,
  type BatchValidationOptions,
} from '@tributary/protocol';
import { LogManager, type Log, type AppendResult } from '@tributary/storage';
import type { Logger } from '../logger.js';
import type { MetadataChange, MetadataStore, PartitionState, TopicMetadata } from '../metadata/metadata-store.js';
import type { BrokerConfig } from '../config/broker-config.js';
import { ProducerStateTable, type SequenceCheck } from './producer-state.js';

export interface ReplicaManagerDeps {
  readonly logManager: LogManager;
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  readonly config: () => BrokerConfig;
  readonly logger: Logger;
}

export interface PartitionView {
  readonly topic: TopicMetadata;
  readonly state: PartitionState;
  readonly log: Log;
}

/** The outcome of appending one partition's records, as the Produce response reports it. */
export interface PartitionAppendResult {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[];
}

export interface AppendRequest {
  readonly topic: string;
  readonly partition: number;
  readonly records: Buffer | null;
  readonly acks: number;
  readonly produceVersion: number;
  readonly nowMs: number;
}

/** Refusals Kafka reports without a message or log start offset (ReplicaManager.appendToLocalLog). */
const UNKNOWN_APPEND_INFO_ERRORS = new Set<number>([ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE]);

const TIMESTAMP_TYPE_CODE = { CreateTime: 0, LogAppendTime: 1 } as const;

/**
 * Logs a new topic gets per turn of the event loop. Creating a log is a mkdir and an open,
 * 0.05-2 ms each on the machines measured, so a 10,000-partition topic created in one go
 * held every other client for 1-13 s. The first step runs at once, so topics of up to
 * this many partitions (and internal topics, whatever their size) are ready when the
 * metadata change has been applied, as before.
 */
export const LOG_CREATION_STEP = 100;

export class ReplicaManager {
  readonly logManager: LogManager;
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly config: () => BrokerConfig;
  private readonly logger: Logger;
  /** Fetches waiting for data, by log. */
  private readonly waiters = new Map<Log, Set<() => void>>();
  /** The tail of each partition's append queue. */
  private readonly appendTails = new Map<Log, Promise<void>>();
  private readonly producerStates = new Map<Log, ProducerStateTable>();
  /** Partitions in the metadata whose logs are still being created (`topicId:partition`). */
  private readonly creating = new Set<string>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(deps: ReplicaManagerDeps) {
    this.logManager = deps.logManager;
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.config = deps.config;
    this.logger = deps.logger;
    this.reconcile();
    this.unsubscribe = this.metadata.subscribe((change) => this.onMetadataChange(change));
  }

  /** Makes the logs match the metadata: a log for every partition this node replicates. */
  private reconcile(): void {
    for (const topic of this.metadata.topics()) {
      this.logManager.updateConfig(topic.name, topic.configs);
      for (const p of topic.partitions) {
        if (p.replicas.includes(this.nodeId)) this.ensureLog(topic, p);
      }
    }
    for (const log of this.logManager.allLogs()) {
      const topic = this.metadata.topic(log.topic);
      if (topic === undefined || topic.partitions[log.partition] === undefined) {
        // Kafka (KRaft) deletes such "stray" logs; keeping them costs only disk and leaves
        // an operator a chance to look, so they are reported rather than removed.
        this.logger.warn('Log directory has no topic in the metadata; leaving it alone', { topic: log.topic, partition: log.partition, dir: log.dir });
      }
    }
  }

  /**
   * Creates the logs of a topic's partitions that this node replicates and does not have
   * yet, LOG_CREATION_STEP per turn of the event loop, so that a topic of thousands of
   * partitions does not stall every connection while its directories are made. Until its
   * log exists, a partition answers NOT_LEADER_OR_FOLLOWER (retriable: clients refresh
   * metadata and retry), as a Kafka broker does before it has become the leader.
   */
  private createLogsInSteps(topic: TopicMetadata): void {
    const missing = topic.partitions.filter((p) => p.replicas.includes(this.nodeId) && this.logManager.getLog(topic.name, p.partition) === undefined);
    for (const p of missing) this.creating.add(creationKey(topic, p.partition));
    let next = 0;
    // The group coordinator loads __consumer_offsets right after creating it: all at once.
    const stepSize = topic.internal ? missing.length : LOG_CREATION_STEP;
    const step = (): void => {
      const end = Math.min(next + stepSize, missing.length);
      const current = this.metadata.topic(topic.name);
      for (; next < end; next++) {
        const p = missing[next]!;
        this.creating.delete(creationKey(topic, p.partition));
        // Deleted (or deleted and created again) in the meantime: that change owns it now.
        if (this.closed || current === undefined || current.topicId !== topic.topicId) continue;
        try {
          this.ensureLog(current, current.partitions[p.partition] ?? p);
        } catch (err) {
          this.logger.error('Creating a log failed', { topic: topic.name, partition: p.partition, err });
        }
      }
      if (next < missing.length) setImmediate(step);
    };
    step();
  }

  private ensureLog(topic: TopicMetadata, p: PartitionState): Log {
    const log = this.logManager.getLog(topic.name, p.partition) ?? this.logManager.createLog(topic.name, p.partition, topic.configs);
    this.maybeIncrementHighWatermark(log, p);
    return log;
  }

  /**
   * A leader whose ISR is itself alone has committed everything it holds, so its high
   * watermark is its log end offset (Kafka's Partition.makeLeader calls
   * maybeIncrementLeaderHW for this case). It matters at start-up: the checkpointed high
   * watermark lags by up to replica.high.watermark.checkpoint.interval.ms, and after a
   * kill -9 acknowledged records past it would stay invisible to consumers (and to
   * ListOffsets latest) until the next append to the partition.
   */
  private maybeIncrementHighWatermark(log: Log, p: PartitionState): void {
    if (p.leader !== this.nodeId) return;
    if (p.isr.some((replica) => replica !== this.nodeId)) return;
    if (log.highWatermark < log.logEndOffset) advanceHighWatermark(log, log.logEndOffset);
  }

  private onMetadataChange(change: MetadataChange): void {
    try {
      switch (change.type) {
        case 'topic-created':
        case 'partitions-created':
          this.logManager.updateConfig(change.topic.name, change.topic.configs);
          this.createLogsInSteps(change.topic);
          break;
        case 'topic-deleted': {
          const doomed: { topic: string; partition: number }[] = [];
          for (const p of change.topic.partitions) {
            const log = this.logManager.getLog(change.topic.name, p.partition);
            if (log === undefined) continue;
            this.forget(log);
            doomed.push({ topic: change.topic.name, partition: p.partition });
          }
          this.logManager.deleteLogs(doomed).catch((err) => {
            this.logger.error('Deleting the logs of a topic failed', { topic: change.topic.name, partitions: doomed.length, err });
          });
          break;
        }
        case 'topic-config-changed':
          this.logManager.updateConfig(change.topic.name, change.topic.configs);
          break;
        default:
          break;
      }
    } catch (err) {
      this.logger.error('Applying a metadata change to the logs failed', { change: change.type, err });
    }
  }

  private forget(log: Log): void {
    this.producerStates.delete(log);
    this.appendTails.delete(log);
    const waiting = this.waiters.get(log);
    this.waiters.delete(log);
    if (waiting) for (const wake of waiting) wake();
  }

  /** The partition if it exists and this broker leads it. */
  partition(topicName: string, partition: number): PartitionView | { errorCode: number } {
    const topic = this.metadata.topic(topicName);
    if (topic === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    return this.partitionOf(topic, partition);
  }

  partitionOf(topic: TopicMetadata, partition: number): PartitionView | { errorCode: number } {
    const state = topic.partitions[partition];
    if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (state.leader !== this.nodeId) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    const log = this.logManager.getLog(topic.name, partition);
    if (log === undefined && this.creating.has(creationKey(topic, partition))) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (log === undefined || log.isClosed) return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
    return { topic, state, log };
  }

  /**
   * Appends one partition's records: the whole produce path for that partition.
   * Never throws for bad client data; I/O failures surface as KAFKA_STORAGE_ERROR.
   *
   * The common case answers synchronously: nothing is queued ahead for the partition and
   * the batch is uncompressed, so it is validated, appended and (unless acks=all waits
   * for an fdatasync) answered in one go, without a promise. Otherwise the request takes
   * its place in the partition's queue.
   */
  append(req: AppendRequest): PartitionAppendResult | Promise<PartitionAppendResult> {
    const view = this.partition(req.topic, req.partition);
    if ('errorCode' in view) return failure(view.errorCode, null);
    if (view.topic.internal) return failure(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${req.topic}`);
    const { log } = view;
    const records = req.records;
    if (records === null || records.length === 0) return failure(ErrorCode.INVALID_RECORD, 'Produce request has no records for the partition');
    const config = log.config;
    if (req.acks === -1 && view.state.isr.length < config.minInsyncReplicas) {
      // Kafka refuses before appending (Partition.appendRecordsToLeader), so a retry
      // cannot duplicate the records; like Kafka, without an error message.
      return failure(ErrorCode.NOT_ENOUGH_REPLICAS, null, [], log.logStartOffset);
    }
    const options: BatchValidationOptions = {
      maxBatchBytes: config.maxMessageBytes,
      origin: 'client',
      produceVersion: req.produceVersion,
      compacted: config.cleanupPolicy.includes('compact'),
      timestampType: TIMESTAMP_TYPE_CODE[config.messageTimestampType],
      nowMs: req.nowMs,
    };
    if (!this.appendTails.has(log)) {
      const validated = validateBatchSync(records, 0, options);
      if (validated !== undefined) return this.afterAppend(view, req, this.appendValidated(view, req, validated));
    }
    // Validation may start at once (it is pure); the append waits for its turn.
    const validation = validateBatch(records, 0, options);
    const previous = this.appendTails.get(log) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.appendTails.set(log, mine);
    return (async () => {
      try {
        await previous;
        const result = await validation;
        return this.appendValidated(view, req, result);
      } finally {
        release();
        if (this.appendTails.get(log) === mine) this.appendTails.delete(log);
      }
    })().then((result) => this.afterAppend(view, req, result));
  }

  private appendValidated(view: PartitionView, req: AppendRequest, validation: BatchValidation): PartitionAppendResult {
    const { log } = view;
    if (!validation.ok) {
      if (UNKNOWN_APPEND_INFO_ERRORS.has(validation.errorCode)) {
        // Kafka answers these with its "unknown append info": no message, logStartOffset -1.
        this.logger.debug('Produce batch refused', { topic: req.topic, partition: req.partition, errorCode: validation.errorCode, reason: validation.message });
        return failure(validation.errorCode, null);
      }
      const recordErrors = validation.recordIndex === undefined ? [] : [{ batchIndex: validation.recordIndex, batchIndexErrorMessage: validation.message }];
      return failure(validation.errorCode, validation.message, recordErrors, log.logStartOffset);
    }
    const records = req.records!;
    const header = validation.header;
    if (header.size !== records.length) {
      return failure(ErrorCode.INVALID_RECORD, `Produce requests must carry exactly one record batch per partition; got ${records.length} bytes with a first batch of ${header.size}`, [], log.logStartOffset);
    }
    let producers: ProducerStateTable | undefined;
    let check: SequenceCheck | undefined;
    if (header.producerId >= 0) {
      producers = this.producerStateOf(log);
      check = producers.check(header.producerId, header.producerEpoch, header.baseSequence, header.lastOffsetDelta);
      if (check.kind === 'duplicate') {
        return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: check.baseOffset, logAppendTimeMs: -1, logStartOffset: log.logStartOffset, recordErrors: [] };
      }
      if (check.kind === 'error') return failure(check.errorCode, check.message, [], log.logStartOffset);
    }
    if (log.config.messageTimestampType === 'CreateTime') {
      // Kafka keeps the batch's maxTimestamp equal to its largest record timestamp.
      setMaxTimestamp(records, 0, 0, validation.maxTimestamp);
    }
    let appended: AppendResult;
    try {
      appended = log.append(records, { leaderEpoch: view.state.leaderEpoch, logAppendTimeMs: req.nowMs });
    } catch (err) {
      this.logger.error('Append failed', { topic: req.topic, partition: req.partition, err });
      return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'The broker could not write to its log directory', [], -1);
    }
    producers?.record(header.producerId, header.producerEpoch, header.baseSequence, header.baseSequence + header.lastOffsetDelta, appended.baseOffset, appended.lastOffset);
    this.appended(log);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: appended.baseOffset,
      logAppendTimeMs: appended.logAppendTimeMs,
      logStartOffset: appended.logStartOffset,
      recordErrors: [],
    };
  }

  /**
   * acks=all in durable mode: the answer waits for fdatasync. (The ISR was checked before
   * the append; Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND needs an ISR that shrinks while
   * the request waits, which a single node's cannot.)
   */
  private afterAppend(view: PartitionView, req: AppendRequest, result: PartitionAppendResult): PartitionAppendResult | Promise<PartitionAppendResult> {
    if (result.errorCode !== ErrorCode.NONE || req.acks !== -1) return result;
    if (!this.durableAcks(view.topic)) return result;
    return view.log.waitForFlush(view.log.logEndOffset).then(
      () => result,
      (err: unknown) => {
        this.logger.error('fdatasync failed', { topic: req.topic, partition: req.partition, err });
        return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'The broker could not flush its log directory', [], -1);
      },
    );
  }

  /** `flush.durable.acks` (topic) over `log.flush.durable.acks` (broker): fsync before acks=all answers. */
  private durableAcks(topic: TopicMetadata): boolean {
    const override = topic.configs['flush.durable.acks'];
    if (override !== undefined) return override.trim().toLowerCase() === 'true';
    return this.config().boolean('log.flush.durable.acks');
  }

  private producerStateOf(log: Log): ProducerStateTable {
    let table = this.producerStates.get(log);
    if (table === undefined) {
      table = ProducerStateTable.rebuild(log);
      this.producerStates.set(log, table);
    }
    return table;
  }

  /**
   * After a local append as leader (Produce, or a coordinator's internal topic): on a
   * single node the ISR is this broker alone, so everything written is committed; the high
   * watermark moves to the log end offset and waiting fetches wake.
   */
  appended(log: Log): void {
    advanceHighWatermark(log, log.logEndOffset);
    this.wake(log);
  }

  /** Wakes every fetch waiting on this log. */
  wake(log: Log): void {
    const waiting = this.waiters.get(log);
    if (waiting === undefined) return;
    this.waiters.delete(log);
    for (const wake of waiting) wake();
  }

  /**
   * Resolves when any of the logs gets new data, or after `timeoutMs`, whichever is first.
   * Used by Fetch's long poll.
   */
  waitForData(logs: readonly Log[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const log of logs) this.waiters.get(log)?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      for (const log of logs) {
        let set = this.waiters.get(log);
        if (set === undefined) {
          set = new Set();
          this.waiters.set(log, set);
        }
        set.add(wake);
      }
    });
  }

  close(): void {
    this.closed = true;
    this.creating.clear();
    this.unsubscribe();
    for (const [, set] of this.waiters) for (const wake of set) wake();
    this.waiters.clear();
  }
}

/** By topic id: a topic deleted and created again under its name is another topic. */
function creationKey(topic: TopicMetadata, partition: number): string {
  return `${topic.topicId}:${partition}`;
}

function failure(
  errorCode: number,
  errorMessage: string | null,
  recordErrors: PartitionAppendResult['recordErrors'] = [],
  logStartOffset = -1,
): PartitionAppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset, recordErrors };
}

/**
 * Moves a leader's high watermark to `offset`. It never goes back: only truncation lowers
 * it, inside storage. Storage asserts log start <= high watermark <= log end.
 */
export function advanceHighWatermark(log: Pick<Log, 'highWatermark' | 'updateHighWatermark'>, offset: number): void {
  const previous = log.highWatermark;
  assertAtMost(previous, log.updateHighWatermark(offset), 'a leader high watermark never moves back');
}
