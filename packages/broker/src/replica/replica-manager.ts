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
  validateBatchSync,
  encodeControlBatch,
  ControlRecordType,
  type BatchValidation,
  type BatchValidationOptions,
} from '@tributary/protocol';
import { LogManager, StorageError, StorageErrorCode, type Log, type AppendResult } from '@tributary/storage';
import type { Logger } from '../logger.js';
import type { MetadataChange, MetadataStore, PartitionState, TopicMetadata } from '../metadata/metadata-store.js';
import { ProducerStateTable, type SequenceCheck } from './producer-state.js';
import { needsRecompression, targetCompressionOf, timestampLimits, validateForAppend } from './log-validator.js';

export interface ReplicaManagerDeps {
  readonly logManager: LogManager;
  readonly metadata: MetadataStore;
  readonly nodeId: number;
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

/**
 * Refusals Kafka reports without a message or log start offset: its "unknown append info"
 * (ReplicaManager.appendToLocalLog), and zstd below Produce v7, which Kafka refuses in
 * KafkaApis before the replica manager (ProduceRequest.validateRecords).
 */
const UNKNOWN_APPEND_INFO_ERRORS = new Set<number>([ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE]);

const TIMESTAMP_TYPE_CODE = { CreateTime: 0, LogAppendTime: 1 } as const;

/**
 * Logs created per turn of the event loop, whatever the number of topics they belong to.
 * Creating a log is a mkdir and an open, 0.05-2 ms each on the machines measured, so a
 * 10,000-partition topic created in one go held every other client for 1-13 s, and 2,000
 * topics of 5 partitions (each topic under any per-topic step) for 2-13 s. The first step
 * runs at once, so a topic of up to this many partitions (and internal topics, whatever
 * their size) is ready when the metadata change has been applied, as long as no larger
 * creation is queued ahead of it.
 */
export const LOG_CREATION_STEP = 100;

/**
 * Time one turn of the event loop may spend creating logs (besides the count above): at
 * 0.5-2 ms per log on a loaded machine, 100 logs alone held the loop for up to 200 ms. The
 * first step of a topic created while nothing is queued is exempt, so that a lone topic of
 * up to LOG_CREATION_STEP partitions is still complete when its creation is answered.
 */
export const LOG_CREATION_TURN_MS = 25;

/** A partition waiting for its log, with the topic as it was when the log was asked for. */
interface PendingLog {
  readonly topic: TopicMetadata;
  readonly partition: PartitionState;
}

export class ReplicaManager {
  readonly logManager: LogManager;
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly logger: Logger;
  /** Fetches waiting for data, by log. */
  private readonly waiters = new Map<Log, Set<() => void>>();
  /** The tail of each partition's append queue. */
  private readonly appendTails = new Map<Log, Promise<void>>();
  private readonly producerStates = new Map<Log, ProducerStateTable>();
  /** Partitions in the metadata whose logs are still being created (`topicId:partition`). */
  private readonly creating = new Set<string>();
  /** One queue for every topic's pending logs, oldest first; `creationHead` is its front. */
  private creationQueue: PendingLog[] = [];
  private creationHead = 0;
  /** Logs this turn may still create; reset by the next turn's step. */
  private creationBudget = LOG_CREATION_STEP;
  /** When this turn must stop creating logs (performance.now()); set by its first creation. */
  private creationDeadlineMs: number | undefined;
  private creationTurnScheduled = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(deps: ReplicaManagerDeps) {
    this.logManager = deps.logManager;
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.logger = deps.logger;
    this.reconcile();
    this.unsubscribe = this.metadata.subscribe((change) => this.onMetadataChange(change));
  }

  /**
   * Makes the logs match the metadata: a log for every partition this node replicates.
   * A topic's typed LogConfig is not this class's business: the LogManager holds it, and
   * config/dynamic-config.ts (subscribed to the metadata before this class) keeps it
   * current, so a log created here picks up its topic's config from the LogManager.
   */
  private reconcile(): void {
    for (const topic of this.metadata.topics()) {
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
   * yet, through one queue shared by all topics: at most LOG_CREATION_STEP logs per turn of
   * the event loop, so that a topic of thousands of partitions, or thousands of topics
   * created by one request, do not stall every connection while their directories are
   * made. Until its log exists, a partition answers NOT_LEADER_OR_FOLLOWER (retriable:
   * clients refresh metadata and retry), as a Kafka broker does before it has become the
   * leader.
   */
  private createLogsInSteps(topic: TopicMetadata): void {
    const missing = topic.partitions.filter((p) => p.replicas.includes(this.nodeId) && this.logManager.getLog(topic.name, p.partition) === undefined);
    if (topic.internal) {
      // The group coordinator loads __consumer_offsets right after creating it: all at once.
      if (missing.length > 0) this.creationDeadlineMs ??= performance.now() + LOG_CREATION_TURN_MS;
      for (const p of missing) this.createPendingLog({ topic, partition: p });
      this.creationBudget -= missing.length;
      this.scheduleCreationTurn();
      return;
    }
    const lone = this.creationHead === this.creationQueue.length && this.creationBudget === LOG_CREATION_STEP;
    for (const p of missing) {
      this.creating.add(creationKey(topic, p.partition));
      this.creationQueue.push({ topic, partition: p });
    }
    this.drainCreations(lone);
  }

  /**
   * Creates queued logs while this turn's budget (count and time) lasts; the next turn
   * continues. `untimed`: the first step of a lone topic, bounded by the count only.
   */
  private drainCreations(untimed = false): void {
    const queue = this.creationQueue;
    if (this.creationHead < queue.length) this.creationDeadlineMs ??= performance.now() + LOG_CREATION_TURN_MS;
    while (this.creationBudget > 0 && this.creationHead < queue.length && (untimed || performance.now() < this.creationDeadlineMs!)) {
      const pending = queue[this.creationHead]!;
      this.creationHead++;
      if (this.createPendingLog(pending)) this.creationBudget--;
    }
    if (this.creationHead === queue.length) {
      this.creationQueue = [];
      this.creationHead = 0;
    } else if (this.creationHead >= 4096 && this.creationHead * 2 >= queue.length) {
      // Drop the consumed front now and then, so the queue does not hold every entry.
      this.creationQueue = queue.slice(this.creationHead);
      this.creationHead = 0;
    }
    this.scheduleCreationTurn();
  }

  /** Once this turn has started creating, the next turn restores the budget and continues. */
  private scheduleCreationTurn(): void {
    if (this.creationTurnScheduled || this.closed) return;
    if (this.creationDeadlineMs === undefined && this.creationBudget >= LOG_CREATION_STEP && this.creationHead >= this.creationQueue.length) return;
    this.creationTurnScheduled = true;
    setImmediate(() => {
      this.creationTurnScheduled = false;
      this.creationBudget = LOG_CREATION_STEP;
      this.creationDeadlineMs = undefined;
      if (!this.closed && this.creationHead < this.creationQueue.length) this.drainCreations();
    });
  }

  /** Creates one pending log unless its topic is gone; true when a log was created. */
  private createPendingLog({ topic, partition: p }: PendingLog): boolean {
    this.creating.delete(creationKey(topic, p.partition));
    const current = this.metadata.topic(topic.name);
    // Deleted (or deleted and created again) in the meantime: that change owns it now.
    if (this.closed || current === undefined || current.topicId !== topic.topicId) return false;
    try {
      this.ensureLog(current, current.partitions[p.partition] ?? p);
    } catch (err) {
      this.logger.error('Creating a log failed', { topic: topic.name, partition: p.partition, err });
    }
    return true;
  }

  private ensureLog(topic: TopicMetadata, p: PartitionState): Log {
    const log = this.logManager.getLog(topic.name, p.partition) ?? this.logManager.createLog(topic.name, p.partition);
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
    const options = this.validationOptions(view, req);
    const target = targetCompressionOf(view.log.config);
    let validated: BatchValidation | undefined;
    if (!this.appendTails.has(log)) {
      validated = validateBatchSync(records, 0, options);
      if (validated !== undefined && !needsRecompression(validated, target)) return this.afterAppend(view, req, this.appendValidated(view, req, validated, records));
    }
    // Validation (and recompression into the topic's codec) may start at once: it is pure.
    // The append waits for its turn.
    const validation = validateForAppend(records, options, target, config.maxMessageBytes, validated);
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
        return this.appendValidated(view, req, result.validation, result.records);
      } finally {
        release();
        if (this.appendTails.get(log) === mine) this.appendTails.delete(log);
      }
    })().then((result) => this.afterAppend(view, req, result));
  }

  /** The checks of Kafka's LogValidator for this topic (see log-validator.ts). */
  private validationOptions(view: PartitionView, req: AppendRequest): BatchValidationOptions {
    const config = view.log.config;
    const limits = timestampLimits(config);
    const options: BatchValidationOptions = {
      maxBatchBytes: config.maxMessageBytes,
      origin: 'client',
      produceVersion: req.produceVersion,
      compacted: config.cleanupPolicy.includes('compact'),
      timestampType: TIMESTAMP_TYPE_CODE[config.messageTimestampType],
      nowMs: req.nowMs,
      topicPartition: view.log.topicPartition,
    };
    if (limits.beforeMaxMs !== undefined) options.timestampBeforeMaxMs = limits.beforeMaxMs;
    if (limits.afterMaxMs !== undefined) options.timestampAfterMaxMs = limits.afterMaxMs;
    return options;
  }

  /** `records` is what to append: the produced batch, or that batch rebuilt in the topic's codec. */
  private appendValidated(view: PartitionView, req: AppendRequest, validation: BatchValidation, records: Buffer): PartitionAppendResult {
    const { log } = view;
    if (!validation.ok) {
      this.logger.debug('Produce batch refused', { topic: req.topic, partition: req.partition, errorCode: validation.errorCode, reason: validation.message });
      // Kafka answers these with its "unknown append info": no message, logStartOffset -1.
      if (UNKNOWN_APPEND_INFO_ERRORS.has(validation.errorCode)) return failure(validation.errorCode, null);
      if (validation.recordErrors !== undefined) {
        // Kafka's RecordValidationException: the only refusal it answers with a message.
        const recordErrors = validation.recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
        return failure(validation.errorCode, validation.message, recordErrors, log.logStartOffset);
      }
      return failure(validation.errorCode, null, [], log.logStartOffset);
    }
    const header = validation.header;
    if (header.size !== req.records!.length) {
      // Kafka refuses this in KafkaApis (ProduceRequest.validateRecords): no message, no log start offset.
      this.logger.debug('Produce batch refused', { topic: req.topic, partition: req.partition, reason: `${req.records!.length} bytes with a first batch of ${header.size}: more than one batch` });
      return failure(ErrorCode.INVALID_RECORD, null);
    }
    let producers: ProducerStateTable | undefined;
    let check: SequenceCheck | undefined;
    if (header.producerId >= 0) {
      try {
        producers = this.producerStateOf(log);
      } catch (err) {
        // Rebuilding reads the log: a read error has taken its directory offline.
        return this.storageFailure('Append', req, log, err);
      }
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
      return this.storageFailure('Append', req, log, err);
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
   * Appends a transaction marker (COMMIT or ABORT control batch) for `producerId` as leader,
   * for the transaction coordinator (transaction/marker-writer.ts) and WriteTxnMarkers.
   * Resolves to an error code: NONE once the marker is written (and flushed when the topic
   * asks for durable acks), NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION /
   * KAFKA_STORAGE_ERROR otherwise. Markers go into the partition's append queue behind any
   * produce still being validated, so a marker never overtakes the transaction's data.
   */
  appendTxnMarker(topic: string, partition: number, producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean): Promise<number> {
    const view = this.partition(topic, partition);
    if ('errorCode' in view) return Promise.resolve(view.errorCode);
    const { log } = view;
    const batch = encodeControlBatch({ type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, producerId, producerEpoch, coordinatorEpoch });
    const previous = this.appendTails.get(log) ?? Promise.resolve();
    const write = previous.then(() => {
      try {
        log.append(batch, { leaderEpoch: view.state.leaderEpoch });
      } catch (err) {
        return failureCode(this.storageFailure('Append', { topic, partition, records: batch, acks: -1, produceVersion: 0, nowMs: Date.now() }, log, err));
      }
      this.appended(log);
      return ErrorCode.NONE;
    });
    const tail = write.then(() => undefined);
    this.appendTails.set(log, tail);
    void tail.then(() => {
      if (this.appendTails.get(log) === tail) this.appendTails.delete(log);
    });
    return write.then((code) => {
      if (code !== ErrorCode.NONE || !log.config.flushDurableAcks) return code;
      return log.waitForFlush(log.logEndOffset).then(() => ErrorCode.NONE, () => ErrorCode.KAFKA_STORAGE_ERROR);
    });
  }

  /**
   * acks=all in durable mode: the answer waits for fdatasync. (The ISR was checked before
   * the append; Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND needs an ISR that shrinks while
   * the request waits, which a single node's cannot.)
   */
  private afterAppend(view: PartitionView, req: AppendRequest, result: PartitionAppendResult): PartitionAppendResult | Promise<PartitionAppendResult> {
    if (result.errorCode !== ErrorCode.NONE || req.acks !== -1) return result;
    if (!view.log.config.flushDurableAcks) return result;
    return view.log.waitForFlush(view.log.logEndOffset).then(
      () => result,
      (err: unknown) => this.storageFailure('Flush', req, view.log, err),
    );
  }

  /**
   * KAFKA_STORAGE_ERROR (retriable) for a failed append or flush, never a success: after a
   * failed write or fdatasync nothing that depended on it is acknowledged. The storage layer
   * has already logged the one line that matters (directory offline, or disk full, rate
   * limited), so a failing request adds a debug line, not a stack per request.
   */
  private storageFailure(what: string, req: AppendRequest, log: Log, err: unknown): PartitionAppendResult {
    if (err instanceof StorageError && err.code === StorageErrorCode.NO_SPACE) {
      this.logManager.warnNoSpace(this.logManager.logDirOf(log), err.message);
      this.logger.debug(`${what} refused: disk full`, { topic: req.topic, partition: req.partition });
      return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'No space left in the log directory; nothing was written, retry once space is freed', [], -1);
    }
    if (err instanceof StorageError && (err.code === StorageErrorCode.LOG_DIR_OFFLINE || err.code === StorageErrorCode.LOG_CLOSED)) {
      this.logger.debug(`${what} refused: log offline`, { topic: req.topic, partition: req.partition, reason: err.message });
      return failure(ErrorCode.KAFKA_STORAGE_ERROR, `The log directory of ${req.topic}-${req.partition} is offline`, [], -1);
    }
    this.logger.error(`${what} failed`, { topic: req.topic, partition: req.partition, err });
    return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'The broker could not write to its log directory', [], -1);
  }

  /**
   * True when this broker's replica of the partition is on a log directory that failed
   * (Metadata lists it in offline_replicas and, as leader, answers no leader).
   */
  isLocalReplicaOffline(topicName: string, partition: number): boolean {
    return this.logManager.getLog(topicName, partition)?.isOffline === true;
  }

  private producerStateOf(log: Log): ProducerStateTable {
    let table = this.producerStates.get(log);
    if (table === undefined) {
      table = ProducerStateTable.rebuild(log);
      this.producerStates.set(log, table);
    }
    return table;
  }

  /** Wakes the fetches waiting on logs that went offline, so they answer now rather than at maxWaitMs. */
  wakeOffline(): void {
    for (const log of [...this.waiters.keys()]) if (log.isOffline) this.wake(log);
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
    this.creationQueue = [];
    this.creationHead = 0;
    this.unsubscribe();
    for (const [, set] of this.waiters) for (const wake of set) wake();
    this.waiters.clear();
  }
}

function failureCode(r: PartitionAppendResult): number {
  return r.errorCode;
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
