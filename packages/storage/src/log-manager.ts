/**
 * All partition logs of one data directory, with Kafka's background work: the retention
 * check (log.retention.check.interval.ms), the flush.ms scheduler, and the three
 * checkpoint files. Layout of the data dir:
 *
 *   <dataDir>/recovery-point-offset-checkpoint    per partition: offsets below are fsynced
 *   <dataDir>/log-start-offset-checkpoint          per partition: first fetchable offset
 *   <dataDir>/replication-offset-checkpoint        per partition: high watermark
 *   <dataDir>/.kafka_cleanshutdown                 present only between close() and the next open
 *   <dataDir>/<topic>-<partition>/                 one Log each (see log.ts)
 *   <dataDir>/<topic>-<partition>.<uuid>-delete/   a deleted partition, removed in the background
 *
 * Every timer is unref'ed and every background task is also a public method, so tests
 * call `runRetention()` or `checkpoint()` directly with an injected clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import {
  LOG_START_OFFSET_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  REPLICATION_OFFSET_CHECKPOINT,
  checkpointKey,
  fsyncDir,
  readCheckpointFile,
  writeCheckpointFile,
} from './checkpoint-file.js';
import { StorageError, StorageErrorCode } from './errors.js';
import { checkPartitionName, parsePartitionDirName, partitionDirName } from './file-names.js';
import type { FsyncMode } from './group-commit.js';
import type { Log, LogListener } from './log.js';
import type { LogConfig } from './log-config.js';
import { DEFAULT_LOG_CONFIG } from './log-config.js';
import type { LoadStats } from './log-loader.js';
import { loadLog } from './log-loader.js';
import { deleteOldSegments } from './log-retention.js';
import type { Decompressor } from './record-timestamps.js';

export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';

/** Logs closed at the same time by close(). */
const CLOSE_CONCURRENCY = 64;
/** Deleted partition directories removed at the same time (each removal is a chain of file operations). */
const REMOVE_CONCURRENCY = 2;

export interface StorageLogger {
  info(message: string): void;
  warn(message: string): void;
}

const stderrLogger: StorageLogger = {
  info: () => undefined,
  warn: (message) => console.warn(`[storage] ${message}`),
};

export interface LogManagerOptions {
  dataDir: string;
  /** Broker-level defaults for topics without a config of their own, over Kafka's defaults. */
  defaults?: Partial<LogConfig>;
  /**
   * The effective config of each topic known at start-up, already parsed and validated by
   * the broker (its overrides over its broker-level defaults). Storage never parses text.
   */
  topicConfigs?: ReadonlyMap<string, Readonly<LogConfig>>;
  clock?: Clock;
  /** How group-commit fsyncs run; 'async' by default (README, "Measurements"). */
  fsyncMode?: FsyncMode;
  decompress?: Decompressor;
  /** log.retention.check.interval.ms (Kafka: 300000). */
  retentionCheckIntervalMs?: number;
  /** How often flush.ms is checked (Kafka's log.flush.scheduler.interval.ms; here 1000). */
  flushCheckIntervalMs?: number;
  /** log.flush.offset.checkpoint.interval.ms and log.flush.start.offset.checkpoint.interval.ms (60000). */
  checkpointIntervalMs?: number;
  /** replica.high.watermark.checkpoint.interval.ms (5000). */
  highWatermarkCheckpointIntervalMs?: number;
  /** Directory names in the data dir that belong to someone else (the broker's metadata log). */
  reservedDirs?: readonly string[];
  /** Start the background timers (default true); tests drive the methods by hand. */
  schedulers?: boolean;
  logger?: StorageLogger;
  /** A flush or deletion failed: the broker should take this log directory offline. */
  onIoError?: (err: unknown, log: Log | null) => void;
}

export interface OpenStats {
  partitions: number;
  cleanShutdown: boolean;
  recoveredSegments: number;
  truncatedBytes: number;
  elapsedMs: number;
}

export class LogManager {
  readonly dataDir: string;
  readonly clock: Clock;
  private readonly options: LogManagerOptions;
  private defaults: Readonly<LogConfig>;
  private readonly topicConfigs = new Map<string, Readonly<LogConfig>>();
  private readonly logsByKey = new Map<string, Log>();
  private readonly logger: StorageLogger;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly background = new Set<Promise<unknown>>();
  /** Renamed `-delete` directories waiting for removeInBackground's drain loop. */
  private readonly doomed: string[] = [];
  private draining = 0;
  private logStartCheckpointScheduled = false;
  private closed = false;
  openStats: OpenStats = { partitions: 0, cleanShutdown: false, recoveredSegments: 0, truncatedBytes: 0, elapsedMs: 0 };

  private constructor(options: LogManagerOptions) {
    this.options = options;
    this.dataDir = options.dataDir;
    this.clock = options.clock ?? systemClock;
    this.defaults = { ...DEFAULT_LOG_CONFIG, ...(options.defaults ?? {}) };
    this.logger = options.logger ?? stderrLogger;
    for (const [topic, config] of options.topicConfigs ?? []) this.topicConfigs.set(topic, config);
  }

  /** Opens (creating if needed) a data dir and loads every partition in it. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    manager.load();
    if (options.schedulers ?? true) manager.startSchedulers();
    return manager;
  }

  private load(): void {
    const started = performance.now();
    fs.mkdirSync(this.dataDir, { recursive: true });
    const cleanFile = path.join(this.dataDir, CLEAN_SHUTDOWN_FILE);
    const cleanShutdown = fs.existsSync(cleanFile);
    const recoveryPoints = this.readCheckpointOrWarn(RECOVERY_POINT_CHECKPOINT);
    const logStarts = this.readCheckpointOrWarn(LOG_START_OFFSET_CHECKPOINT);
    const highWatermarks = this.readCheckpointOrWarn(REPLICATION_OFFSET_CHECKPOINT);
    const stats = { partitions: 0, recoveredSegments: 0, truncatedBytes: 0 };
    for (const entry of fs.readdirSync(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const parsed = parsePartitionDirName(entry.name);
      const dir = path.join(this.dataDir, entry.name);
      if (parsed === null) {
        if (this.options.reservedDirs?.includes(entry.name)) continue;
        this.logger.warn(`Skipping directory ${dir}: not a <topic>-<partition> log directory`);
        continue;
      }
      if (parsed.deleted) {
        this.removeInBackground(dir);
        continue;
      }
      const key = checkpointKey(parsed.topic, parsed.partition);
      const loaded = loadLog({
        ...this.loadOptions(parsed.topic, parsed.partition, dir),
        ...optional('recoveryPoint', recoveryPoints.get(key)),
        ...optional('logStartOffset', logStarts.get(key)),
        ...optional('highWatermark', highWatermarks.get(key)),
        cleanShutdown,
      });
      this.noteRecovery(dir, loaded.stats);
      stats.partitions++;
      stats.recoveredSegments += loaded.stats.recoveredSegments;
      stats.truncatedBytes += loaded.stats.truncatedBytes;
      this.logsByKey.set(key, loaded.log);
    }
    // The marker must be gone before anything is appended, or a crash would pass for clean.
    if (cleanShutdown) {
      fs.rmSync(cleanFile, { force: true });
      fsyncDir(this.dataDir);
    }
    this.openStats = { ...stats, cleanShutdown, elapsedMs: performance.now() - started };
  }

  private noteRecovery(dir: string, stats: LoadStats): void {
    if (stats.invalidReason !== undefined) {
      this.logger.warn(`Recovered ${dir}: truncated ${stats.truncatedBytes} bytes and ${stats.deletedSegments} segments (${stats.invalidReason})`);
    }
  }

  private readCheckpointOrWarn(name: string): Map<string, number> {
    const file = path.join(this.dataDir, name);
    try {
      return readCheckpointFile(file);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      // A damaged checkpoint only costs recovery work: treat every partition as unflushed.
      this.logger.warn(`${err.message}; ignoring it`);
      return new Map();
    }
  }

  private listener(): LogListener {
    return {
      onLogStartOffsetChanged: () => this.scheduleLogStartCheckpoint(),
      // Kafka checkpoints recovery points right after a truncation: a stale, higher recovery
      // point would let unflushed data written after the truncation skip validation.
      onRecoveryPointLowered: () => this.checkpointRecoveryPoints(),
      onIoError: (log, err) => this.ioError(err, log),
    };
  }

  private loadOptions(topic: string, partition: number, dir: string) {
    return {
      dir,
      topic,
      partition,
      config: this.configFor(topic),
      clock: this.clock,
      fsyncMode: this.options.fsyncMode ?? ('async' as const),
      ...optional('decompress', this.options.decompress),
      listener: this.listener(),
    };
  }

  /** The effective config of a topic: the one it was given, else the defaults. */
  configFor(topic: string): Readonly<LogConfig> {
    return this.topicConfigs.get(topic) ?? this.defaults;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageError(StorageErrorCode.LOG_CLOSED, `Log manager of ${this.dataDir} is closed`);
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.logsByKey.get(checkpointKey(topic, partition));
  }

  /** Every open log. */
  allLogs(): Log[] {
    return [...this.logsByKey.values()];
  }

  /**
   * Creates the log of a new partition. `config`, when given, becomes the effective config
   * of the whole topic (as updateConfig would make it).
   */
  createLog(topic: string, partition: number, config?: Readonly<LogConfig>): Log {
    this.ensureOpen();
    checkPartitionName(topic, partition);
    const key = checkpointKey(topic, partition);
    if (this.logsByKey.has(key)) {
      throw new StorageError(StorageErrorCode.LOG_EXISTS, `Log for ${topic}-${partition} already exists in ${this.dataDir}`);
    }
    if (config !== undefined) this.topicConfigs.set(topic, config);
    const dir = path.join(this.dataDir, partitionDirName(topic, partition));
    fs.mkdirSync(dir, { recursive: true });
    // Like Kafka (KAFKA-10336), the new directory and its entry in the data dir are fsynced
    // at the log's first flush, not here: nothing in an empty log is promised durable yet,
    // and creating the 50 partitions of __consumer_offsets on a first start would otherwise
    // cost 100+ fsyncs. The topic itself is durable in the metadata log, and a directory
    // lost to a power failure is simply created again at start-up.
    // A new, empty log has nothing to recover: it opens as after a clean shutdown.
    const { log } = loadLog({ ...this.loadOptions(topic, partition, dir), cleanShutdown: true, recoveryPoint: 0, deferDirSync: true });
    this.logsByKey.set(key, log);
    return log;
  }

  getOrCreateLog(topic: string, partition: number, config?: Readonly<LogConfig>): Log {
    return this.getLog(topic, partition) ?? this.createLog(topic, partition, config);
  }

  /**
   * Deletes a partition: the log is closed, its directory renamed to
   * `<topic>-<partition>.<uuid>-delete` (so a restart finishes the job) and removed in the
   * background. Resolves after the rename.
   */
  deleteLog(topic: string, partition: number): Promise<void> {
    return this.deleteLogs([{ topic, partition }]);
  }

  /**
   * Deletes many partitions at once (a topic): every log is closed and its directory
   * renamed, then the data dir is synced and the checkpoints written once for all of them,
   * not once per partition (for a 10,000-partition topic that was 40,000 fsyncs on the
   * event loop). The directories are then removed in the background, two at a time, so the
   * removal does not fill libuv's thread pool ahead of other file work. Partitions without
   * a log are skipped. Resolves after the renames.
   */
  async deleteLogs(partitions: readonly { readonly topic: string; readonly partition: number }[]): Promise<void> {
    this.ensureOpen();
    const moves: { from: string; to: string }[] = [];
    for (const { topic, partition } of partitions) {
      const key = checkpointKey(topic, partition);
      const log = this.logsByKey.get(key);
      if (log === undefined) continue;
      this.logsByKey.delete(key);
      log.closeForDeletion();
      moves.push({ from: log.dir, to: path.join(this.dataDir, `${partitionDirName(topic, partition)}.${randomUUID().replaceAll('-', '')}-delete`) });
    }
    if (moves.length === 0) return;
    const renamed: string[] = [];
    const failures: unknown[] = [];
    await Promise.all(moves.map((m) => fs.promises.rename(m.from, m.to).then(() => renamed.push(m.to), (err) => failures.push(err))));
    // The renames are durable before any file inside is removed.
    fsyncDir(this.dataDir);
    this.checkpoint();
    for (const dir of renamed) this.removeInBackground(dir);
    if (failures.length > 0) throw failures[0];
  }

  /**
   * Queues a directory for removal. At most REMOVE_CONCURRENCY drain loops remove the
   * queue, so a deleted topic's directories take at most that many of libuv's threads.
   */
  private removeInBackground(dir: string): void {
    this.doomed.push(dir);
    if (this.draining >= REMOVE_CONCURRENCY) return;
    this.draining++;
    const task = (async () => {
      for (let next = this.doomed.shift(); next !== undefined; next = this.doomed.shift()) {
        await fs.promises.rm(next, { recursive: true, force: true }).catch((err) => this.ioError(err, null));
      }
    })().finally(() => {
      this.draining--;
      this.background.delete(task);
    });
    this.background.add(task);
  }

  /** Replaces a topic's effective config and applies it to the topic's open logs. */
  updateConfig(topic: string, config: Readonly<LogConfig>): void {
    this.topicConfigs.set(topic, config);
    for (const log of this.logsByKey.values()) if (log.topic === topic) log.config = config;
  }

  /** Forgets a deleted topic's config (its logs are deleted separately, by deleteLogs). */
  forgetConfig(topic: string): void {
    this.topicConfigs.delete(topic);
  }

  /** Replaces the defaults and applies them to the open logs of topics without a config. */
  updateDefaults(defaults: Partial<LogConfig>): void {
    this.defaults = { ...DEFAULT_LOG_CONFIG, ...defaults };
    for (const log of this.logsByKey.values()) if (!this.topicConfigs.has(log.topic)) log.config = this.defaults;
  }

  // ---------------------------------------------------------------- background work

  private startSchedulers(): void {
    const every = (ms: number, task: () => void): void => {
      const timer = setInterval(() => {
        try {
          task();
        } catch (err) {
          this.ioError(err, null);
        }
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.retentionCheckIntervalMs ?? 300000, () => this.runRetention());
    every(this.options.flushCheckIntervalMs ?? 1000, () => this.flushDue());
    every(this.options.checkpointIntervalMs ?? 60000, () => {
      this.checkpointRecoveryPoints();
      this.checkpointLogStartOffsets();
    });
    every(this.options.highWatermarkCheckpointIntervalMs ?? 5000, () => this.checkpointHighWatermarks());
  }

  /** One retention pass over every log; returns the number of segments deleted. */
  runRetention(): number {
    if (this.closed) return 0;
    const now = this.clock.now();
    let deleted = 0;
    for (const log of this.logsByKey.values()) deleted += deleteOldSegments(log, now);
    return deleted;
  }

  /** Starts a flush of every log whose oldest unflushed data is older than its flush.ms. */
  flushDue(): void {
    const now = this.clock.now();
    for (const log of this.logsByKey.values()) log.flushIfDue(now);
  }

  private collect(pick: (log: Log) => number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, log] of this.logsByKey) out.set(key, pick(log));
    return out;
  }

  checkpointRecoveryPoints(): void {
    writeCheckpointFile(path.join(this.dataDir, RECOVERY_POINT_CHECKPOINT), this.collect((l) => l.recoveryPoint));
  }

  checkpointLogStartOffsets(): void {
    writeCheckpointFile(path.join(this.dataDir, LOG_START_OFFSET_CHECKPOINT), this.collect((l) => l.logStartOffset));
  }

  checkpointHighWatermarks(): void {
    writeCheckpointFile(path.join(this.dataDir, REPLICATION_OFFSET_CHECKPOINT), this.collect((l) => l.highWatermark));
  }

  /** Writes all three checkpoint files. */
  checkpoint(): void {
    this.checkpointRecoveryPoints();
    this.checkpointLogStartOffsets();
    this.checkpointHighWatermarks();
  }

  private scheduleLogStartCheckpoint(): void {
    if (this.logStartCheckpointScheduled || this.closed) return;
    this.logStartCheckpointScheduled = true;
    setImmediate(() => {
      this.logStartCheckpointScheduled = false;
      if (this.closed) return;
      try {
        this.checkpointLogStartOffsets();
      } catch (err) {
        this.ioError(err, null);
      }
    });
  }

  private ioError(err: unknown, log: Log | null): void {
    const where = log === null ? this.dataDir : log.dir;
    this.logger.warn(`I/O error in ${where}: ${(err as Error)?.message ?? String(err)}`);
    this.options.onIoError?.(err, log);
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Flushes every log, writes final checkpoints and the clean-shutdown marker, so the next
   * open recovers nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    // Many at once, so that their fsyncs share journal commits (see Log.close); bounded so
    // that 10,000 partitions do not open 40,000 files at the same time.
    const logs = [...this.logsByKey.values()];
    let next = 0;
    const closeNext = async (): Promise<void> => {
      while (next < logs.length) await logs[next++]!.close({ parentDirSynced: true });
    };
    await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, logs.length) }, closeNext));
    this.checkpoint();
    await Promise.all([...this.background]);
    const fd = fs.openSync(path.join(this.dataDir, CLEAN_SHUTDOWN_FILE), 'w');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fsyncDir(this.dataDir);
  }

  /** Stops everything without flushing or writing: the state a kill -9 leaves (tests). */
  abandon(): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const log of this.logsByKey.values()) log.abandon();
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
