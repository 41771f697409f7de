/**
 * All partition logs of the broker's log directories (log.dirs), with Kafka's background
 * work: the retention check (log.retention.check.interval.ms), the flush.ms scheduler, and
 * the three checkpoint files. Layout of each log dir:
 *
 *   <logDir>/recovery-point-offset-checkpoint     per partition: offsets below are fsynced
 *   <logDir>/log-start-offset-checkpoint           per partition: first fetchable offset
 *   <logDir>/replication-offset-checkpoint         per partition: high watermark
 *   <logDir>/.kafka_cleanshutdown                  present only between close() and the next open
 *   <logDir>/<topic>-<partition>/                  one Log each (see log.ts)
 *   <logDir>/<topic>-<partition>.<uuid>-delete/    a deleted partition, removed in the background
 *
 * Several log dirs (Kafka's JBOD): each has its own checkpoint files and clean-shutdown
 * marker; a partition lives in exactly one of them, found where it is at start-up; a new
 * partition goes to the online directory with the fewest partitions (Kafka's rule, ties in
 * log.dirs order).
 *
 * Disk failures (Kafka's LogDirFailureChannel): an I/O error in any operation of a log, or
 * in a checkpoint of a directory, takes that whole directory offline, once, with one
 * error line. Its logs are closed without flushing and refuse everything (LOG_DIR_OFFLINE,
 * which the broker answers as KAFKA_STORAGE_ERROR); getLog still returns them, so the
 * broker never creates an empty log elsewhere for a partition whose data is on the failed
 * disk. Other directories keep working. The exception is a full disk on a write: the write
 * is rolled back and fails alone (NO_SPACE), the directory stays online (file-system.ts).
 *
 * Every timer is unref'ed and every background task is also a public method, so tests
 * call `runRetention()` or `checkpoint()` directly with an injected clock.
 */
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
import { ConfigError } from './config-def.js';
import type { FileSystem } from './file-system.js';
import { isIoError, isNoSpace, nodeFileSystem } from './file-system.js';
import { checkPartitionName, parsePartitionDirName, partitionDirName } from './file-names.js';
import type { FsyncMode } from './group-commit.js';
import type { Log, LogListener } from './log.js';
import type { LogConfig } from './log-config.js';
import { DEFAULT_LOG_CONFIG } from './log-config.js';
import type { LoadStats } from './log-loader.js';
import { loadLog } from './log-loader.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS } from './producer-state.js';
import { deleteOldSegments } from './log-retention.js';
import type { CleanerConfig } from './log-cleaner.js';
import { LogCleaner } from './log-cleaner.js';
import type { Decompressor } from './record-timestamps.js';

export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';

/** Logs closed at the same time by close(). */
const CLOSE_CONCURRENCY = 64;
/** Deleted partition directories removed at the same time (each removal is a chain of file operations). */
const REMOVE_CONCURRENCY = 2;

export interface StorageLogger {
  info(message: string): void;
  warn(message: string): void;
  /** A log directory went offline; warn is used when absent. */
  error?(message: string): void;
}

const stderrLogger: StorageLogger = {
  info: () => undefined,
  warn: (message) => console.warn(`[storage] ${message}`),
};

/** Minimum time between two "disk full" warnings of one directory: a full disk fails every append. */
const NO_SPACE_WARNING_INTERVAL_MS = 10_000;

export interface LogManagerOptions {
  /** The log directory (a single entry of log.dirs); ignored when `logDirs` is given. */
  dataDir?: string;
  /** Every log directory (Kafka's log.dirs), in configured order; at least one. */
  logDirs?: readonly string[];
  /** File system calls; node:fs unless a test injects failures (file-system.ts). */
  fileSystem?: FileSystem;
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
  /** producer.id.expiration.ms (Kafka: 86400000): idle producer ids are forgotten after it. */
  producerIdExpirationMs?: number;
  /** producer.id.expiration.check.interval.ms (Kafka: 600000). */
  producerIdExpirationCheckIntervalMs?: number;
  /** The broker's log.cleaner.* settings (log-cleaner.ts); Kafka's defaults when absent. */
  cleaner?: Partial<CleanerConfig>;
  /** Run cleans on the event loop with `fileSystem` instead of worker threads (tests injecting faults). */
  cleanerInline?: boolean;
  /** Start the background timers (default true); tests drive the methods by hand. */
  schedulers?: boolean;
  logger?: StorageLogger;
  /**
   * A log directory went offline after an I/O error (once per directory). Its logs are
   * already closed; the broker shuts down when none is left (Kafka does the same).
   */
  onLogDirFailure?: (dir: string, err: unknown) => void;
}

/** One entry of log.dirs. */
interface LogDirState {
  readonly path: string;
  /** Open logs in it, for new-partition placement. */
  logCount: number;
  offline: boolean;
  lastNoSpaceWarningMs: number;
}

export interface OpenStats {
  partitions: number;
  cleanShutdown: boolean;
  recoveredSegments: number;
  truncatedBytes: number;
  elapsedMs: number;
  /** Of elapsedMs, the time spent loading producer state (snapshots and replays). */
  producerStateMs?: number;
}

export class LogManager {
  /** The first log directory (Kafka's metadata.log.dir default). */
  readonly dataDir: string;
  /** Every log directory, in configured order (absolute or as given). */
  readonly logDirs: readonly string[];
  readonly clock: Clock;
  readonly fs: FileSystem;
  private readonly options: LogManagerOptions;
  private defaults: Readonly<LogConfig>;
  private readonly topicConfigs = new Map<string, Readonly<LogConfig>>();
  /** Logs in online directories. */
  private readonly logsByKey = new Map<string, Log>();
  /** The same logs by topic (see indexByTopic). */
  private readonly logsByTopic = new Map<string, Set<Log>>();
  /** Logs of offline directories: closed, kept so that their partitions are not created again elsewhere. */
  private readonly offlineLogs = new Map<string, Log>();
  private readonly dirs = new Map<string, LogDirState>();
  private readonly logger: StorageLogger;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly background = new Set<Promise<unknown>>();
  /** Renamed `-delete` directories waiting for removeInBackground's drain loop. */
  private readonly doomed: string[] = [];
  private draining = 0;
  private logStartCheckpointScheduled = false;
  private closed = false;
  /** The log cleaner (compaction); its threads run when schedulers do and log.cleaner.enable is set. */
  cleaner!: LogCleaner;
  openStats: OpenStats = { partitions: 0, cleanShutdown: false, recoveredSegments: 0, truncatedBytes: 0, elapsedMs: 0 };

  private constructor(options: LogManagerOptions) {
    this.options = options;
    const logDirs = options.logDirs ?? (options.dataDir !== undefined ? [options.dataDir] : []);
    if (logDirs.length === 0) throw new ConfigError('TRIB_ERR_CONFIG_INVALID', 'LogManager needs at least one log directory (dataDir or logDirs)', 'log.dirs');
    const normalized = logDirs.map((d) => path.resolve(d));
    if (new Set(normalized).size !== normalized.length) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `log.dirs names a directory twice: ${logDirs.join(',')}`, 'log.dirs');
    }
    this.logDirs = [...logDirs];
    this.dataDir = logDirs[0]!;
    for (const dir of logDirs) this.dirs.set(dir, { path: dir, logCount: 0, offline: false, lastNoSpaceWarningMs: -Infinity });
    this.fs = options.fileSystem ?? nodeFileSystem;
    this.clock = options.clock ?? systemClock;
    this.defaults = { ...DEFAULT_LOG_CONFIG, ...(options.defaults ?? {}) };
    this.logger = options.logger ?? stderrLogger;
    for (const [topic, config] of options.topicConfigs ?? []) this.topicConfigs.set(topic, config);
  }

  /** Opens (creating if needed) a data dir and loads every partition in it. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    manager.load();
    manager.cleaner = new LogCleaner(
      {
        logDirs: manager.logDirs,
        fs: manager.fs,
        allLogs: () => manager.allLogs(),
        logDirOf: (log) => manager.logDirOf(log),
        logsIn: (dir) => manager.logsIn(dir),
        isLogDirOnline: (dir) => manager.isLogDirOnline(dir),
        now: () => manager.clock.now(),
        info: (message) => manager.logger.info(message),
        warn: (message) => manager.logger.warn(message),
      },
      options.cleaner,
      { inline: options.cleanerInline ?? false },
    );
    if (options.schedulers ?? true) {
      manager.startSchedulers();
      manager.cleaner.start();
    }
    return manager;
  }

  /**
   * Loads every log directory. A failure here stops the start-up (Kafka would start with
   * the directory offline; here an operator fixes or removes it from log.dirs first, since
   * partitions that cannot be found would otherwise be created again, empty, elsewhere).
   */
  private load(): void {
    const started = performance.now();
    const stats = { partitions: 0, recoveredSegments: 0, truncatedBytes: 0, producerStateMs: 0 };
    let allClean = true;
    for (const logDir of this.logDirs) allClean = this.loadDir(logDir, stats) && allClean;
    this.openStats = { ...stats, cleanShutdown: allClean, elapsedMs: performance.now() - started };
  }

  /** Loads one log directory; returns whether it was shut down cleanly. */
  private loadDir(logDir: string, stats: { partitions: number; recoveredSegments: number; truncatedBytes: number; producerStateMs: number }): boolean {
    const fs = this.fs;
    const state = this.dirs.get(logDir)!;
    fs.mkdirSync(logDir, { recursive: true });
    const cleanFile = path.join(logDir, CLEAN_SHUTDOWN_FILE);
    const cleanShutdown = fs.existsSync(cleanFile);
    const recoveryPoints = this.readCheckpointOrWarn(logDir, RECOVERY_POINT_CHECKPOINT);
    const logStarts = this.readCheckpointOrWarn(logDir, LOG_START_OFFSET_CHECKPOINT);
    const highWatermarks = this.readCheckpointOrWarn(logDir, REPLICATION_OFFSET_CHECKPOINT);
    for (const entry of fs.readdirSync(logDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const parsed = parsePartitionDirName(entry.name);
      const dir = path.join(logDir, entry.name);
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
      const other = this.logsByKey.get(key);
      if (other !== undefined) {
        // Kafka refuses to start too: which copy is the partition is not for us to guess.
        throw new StorageError(StorageErrorCode.LOG_EXISTS, `Partition ${parsed.topic}-${parsed.partition} has a log in two directories: ${other.dir} and ${dir}; remove one`);
      }
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
      stats.producerStateMs += loaded.stats.producerStateMs;
      this.logsByKey.set(key, loaded.log);
      this.indexByTopic(loaded.log);
      state.logCount++;
    }
    // The marker must be gone before anything is appended, or a crash would pass for clean.
    if (cleanShutdown) {
      fs.rmSync(cleanFile, { force: true });
      fsyncDir(logDir, fs);
    }
    return cleanShutdown;
  }

  private noteRecovery(dir: string, stats: LoadStats): void {
    if (stats.invalidReason !== undefined) {
      this.logger.warn(`Recovered ${dir}: truncated ${stats.truncatedBytes} bytes and ${stats.deletedSegments} segments (${stats.invalidReason})`);
    }
  }

  private readCheckpointOrWarn(logDir: string, name: string): Map<string, number> {
    const file = path.join(logDir, name);
    try {
      return readCheckpointFile(file, this.fs);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      // A damaged checkpoint only costs recovery work: treat every partition as unflushed.
      this.logger.warn(`${err.message}; ignoring it`);
      return new Map();
    }
  }

  /** One for every log (each callback is told which log calls): a start-up made 4,000 closures. */
  private sharedListener: LogListener | undefined;

  private listener(): LogListener {
    return this.sharedListener ??= {
      onLogStartOffsetChanged: () => this.scheduleLogStartCheckpoint(),
      // Kafka checkpoints recovery points right after a truncation: a stale, higher recovery
      // point would let unflushed data written after the truncation skip validation.
      onRecoveryPointLowered: () => this.checkpointRecoveryPoints(),
      onIoError: (log, err) => this.ioError(err, log),
      onNoSpace: (log, err) => this.warnNoSpace(this.logDirOf(log), err.message),
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
      fs: this.fs,
      ...optional('decompress', this.options.decompress),
      ...optional('producerIdExpirationMs', this.options.producerIdExpirationMs),
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

  /** The partition's log; an offline one (isOffline) when its directory has failed. */
  getLog(topic: string, partition: number): Log | undefined {
    const key = checkpointKey(topic, partition);
    return this.logsByKey.get(key) ?? this.offlineLogs.get(key);
  }

  /** Every log in an online directory. */
  allLogs(): Log[] {
    return [...this.logsByKey.values()];
  }

  /** The log directory (an entry of logDirs) holding a log. */
  logDirOf(log: Log): string {
    const parent = path.dirname(log.dir);
    if (this.dirs.has(parent)) return parent;
    // logDirs as given may be relative or end in a slash; log.dir was joined from them.
    for (const dir of this.logDirs) if (path.resolve(dir) === path.resolve(parent)) return dir;
    return parent;
  }

  isLogDirOnline(dir: string): boolean {
    const state = this.dirs.get(dir);
    return state !== undefined && !state.offline;
  }

  /** Directories taken offline by an I/O error, in log.dirs order. */
  offlineLogDirs(): string[] {
    return this.logDirs.filter((d) => this.dirs.get(d)!.offline);
  }

  /** Online logs of one directory (DescribeLogDirs). */
  logsIn(dir: string): Log[] {
    return this.allLogs().filter((log) => this.logDirOf(log) === dir);
  }

  /**
   * Where a new partition goes: the online directory with the fewest partitions, the
   * earliest in log.dirs on a tie (Kafka's LogManager.nextLogDirs).
   */
  private nextLogDir(topic: string, partition: number): LogDirState {
    let best: LogDirState | undefined;
    for (const dir of this.logDirs) {
      const state = this.dirs.get(dir)!;
      if (state.offline) continue;
      if (best === undefined || state.logCount < best.logCount) best = state;
    }
    if (best === undefined) {
      throw new StorageError(StorageErrorCode.LOG_DIR_OFFLINE, `Cannot create a log for ${topic}-${partition}: every log directory is offline (${this.logDirs.join(', ')})`);
    }
    return best;
  }

  /**
   * Creates the log of a new partition. `config`, when given, becomes the effective config
   * of the whole topic (as updateConfig would make it).
   */
  createLog(topic: string, partition: number, config?: Readonly<LogConfig>): Log {
    this.ensureOpen();
    checkPartitionName(topic, partition);
    const key = checkpointKey(topic, partition);
    const existing = this.getLog(topic, partition);
    if (existing !== undefined) {
      throw new StorageError(StorageErrorCode.LOG_EXISTS, `Log for ${topic}-${partition} already exists in ${path.dirname(existing.dir)}`);
    }
    if (config !== undefined) this.topicConfigs.set(topic, config);
    const logDir = this.nextLogDir(topic, partition);
    const dir = path.join(logDir.path, partitionDirName(topic, partition));
    try {
      this.fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      // A full disk fails this one creation; anything else is the directory failing.
      if (isIoError(err) && !isNoSpace(err)) this.takeLogDirOffline(logDir.path, err);
      throw err;
    }
    // Like Kafka (KAFKA-10336), the new directory and its entry in the data dir are fsynced
    // at the log's first flush, not here: nothing in an empty log is promised durable yet,
    // and creating the 50 partitions of __consumer_offsets on a first start would otherwise
    // cost 100+ fsyncs. The topic itself is durable in the metadata log, and a directory
    // lost to a power failure is simply created again at start-up.
    // A new, empty log has nothing to recover: it opens as after a clean shutdown.
    let log: Log;
    try {
      ({ log } = loadLog({ ...this.loadOptions(topic, partition, dir), cleanShutdown: true, recoveryPoint: 0, deferDirSync: true }));
    } catch (err) {
      if (isIoError(err) && !isNoSpace(err)) this.takeLogDirOffline(logDir.path, err);
      throw err;
    }
    this.logsByKey.set(key, log);
    this.indexByTopic(log);
    logDir.logCount++;
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
    const moves: { from: string; to: string; logDir: string }[] = [];
    for (const { topic, partition } of partitions) {
      const key = checkpointKey(topic, partition);
      // A partition on an offline directory is forgotten; its files stay on the failed disk.
      if (this.offlineLogs.delete(key)) continue;
      const log = this.logsByKey.get(key);
      if (log === undefined) continue;
      this.logsByKey.delete(key);
      this.unindexByTopic(log);
      const logDir = this.logDirOf(log);
      this.dirs.get(logDir)!.logCount--;
      log.closeForDeletion();
      moves.push({ from: log.dir, to: path.join(logDir, `${partitionDirName(topic, partition)}.${randomUUID().replaceAll('-', '')}-delete`), logDir });
    }
    if (moves.length === 0) return;
    const renamed: string[] = [];
    const failures: unknown[] = [];
    const failedDirs = new Set<string>();
    await Promise.all(moves.map((m) => this.fs.promises.rename(m.from, m.to).then(() => renamed.push(m.to), (err: unknown) => {
      failures.push(err);
      failedDirs.add(m.logDir);
    })));
    // The renames are durable before any file inside is removed.
    for (const logDir of new Set(moves.map((m) => m.logDir))) {
      if (failedDirs.has(logDir)) continue;
      try {
        fsyncDir(logDir, this.fs);
      } catch (err) {
        failures.push(err);
        failedDirs.add(logDir);
      }
    }
    for (const logDir of failedDirs) this.ioError(failures[0], logDir);
    this.checkpoint();
    for (const dir of renamed) if (!failedDirs.has(path.dirname(dir))) this.removeInBackground(dir);
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
        const logDir = path.dirname(next);
        if (!this.isLogDirOnline(logDir) && this.dirs.has(logDir)) continue;
        await this.fs.promises.rm(next, { recursive: true, force: true }).catch((err: unknown) => this.ioError(err, logDir));
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
    for (const log of this.logsByTopic.get(topic) ?? []) log.config = config;
  }

  /**
   * logsByTopic mirrors logsByKey, so that a topic's config change touches that topic's
   * logs only: walking every log per change held the event loop when thousands of topics
   * were created at once.
   */
  private indexByTopic(log: Log): void {
    let logs = this.logsByTopic.get(log.topic);
    if (logs === undefined) this.logsByTopic.set(log.topic, (logs = new Set()));
    logs.add(log);
  }

  private unindexByTopic(log: Log): void {
    const logs = this.logsByTopic.get(log.topic);
    if (logs === undefined) return;
    logs.delete(log);
    if (logs.size === 0) this.logsByTopic.delete(log.topic);
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
          // Each task handles its own directories' errors; this is a bug, not a disk.
          this.logger.warn(`Background storage task failed: ${(err as Error)?.stack ?? String(err)}`);
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
    every(this.options.producerIdExpirationCheckIntervalMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS, () => this.removeExpiredProducers());
  }

  /** Kafka's producer-id expiration task: every log forgets its idle producers. Returns how many went. */
  removeExpiredProducers(): number {
    if (this.closed) return 0;
    const now = this.clock.now();
    let removed = 0;
    for (const log of this.allLogs()) removed += log.removeExpiredProducers(now);
    return removed;
  }

  /** One retention pass over every log; returns the number of segments deleted. */
  runRetention(): number {
    if (this.closed) return 0;
    const now = this.clock.now();
    let deleted = 0;
    for (const log of this.allLogs()) {
      try {
        deleted += deleteOldSegments(log, now);
      } catch (err) {
        // Log operations take their log offline themselves; this reaches the directory.
        if (isIoError(err)) this.ioError(err, log);
        else if (!(err instanceof StorageError)) throw err;
      }
    }
    return deleted;
  }

  /** Starts a flush of every log whose oldest unflushed data is older than its flush.ms. */
  flushDue(): void {
    const now = this.clock.now();
    for (const log of this.logsByKey.values()) log.flushIfDue(now);
  }

  /**
   * Writes one checkpoint file in every online directory, each listing that directory's
   * partitions. A failed write takes its directory offline (Kafka does the same).
   */
  private writeCheckpoints(name: string, pick: (log: Log) => number): void {
    const byDir = new Map<string, Map<string, number>>();
    for (const dir of this.logDirs) if (this.isLogDirOnline(dir)) byDir.set(dir, new Map());
    const single = this.logDirs.length === 1;
    for (const [key, log] of this.logsByKey) {
      byDir.get(single ? this.dataDir : this.logDirOf(log))?.set(key, pick(log));
    }
    for (const [dir, entries] of byDir) {
      try {
        writeCheckpointFile(path.join(dir, name), entries, this.fs);
      } catch (err) {
        if (!isIoError(err)) throw err;
        // A full disk leaves the previous checkpoint in place (the new one goes to a .tmp
        // file first): only recovery work is lost, so the directory stays online.
        if (isNoSpace(err)) this.warnNoSpace(dir, (err as Error).message);
        else this.ioError(err, dir);
      }
    }
  }

  checkpointRecoveryPoints(): void {
    this.writeCheckpoints(RECOVERY_POINT_CHECKPOINT, (l) => l.recoveryPoint);
  }

  checkpointLogStartOffsets(): void {
    this.writeCheckpoints(LOG_START_OFFSET_CHECKPOINT, (l) => l.logStartOffset);
  }

  checkpointHighWatermarks(): void {
    this.writeCheckpoints(REPLICATION_OFFSET_CHECKPOINT, (l) => l.highWatermark);
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
      this.checkpointLogStartOffsets();
    });
  }

  /** An error in a log or a directory's own files: I/O errors take the directory offline. */
  private ioError(err: unknown, where: Log | string): void {
    const dir = typeof where === 'string' ? where : this.logDirOf(where);
    if (!isIoError(err)) {
      this.logger.warn(`Unexpected error in storage work on ${dir}: ${(err as Error)?.stack ?? String(err)}`);
      return;
    }
    this.takeLogDirOffline(dir, err);
  }

  /**
   * Kafka's handleLogDirFailure: every log of the directory is closed without flushing
   * and taken out of service (their partitions answer KAFKA_STORAGE_ERROR), checkpoints
   * are no longer written there, and one error line says which directory failed and why.
   * There is no way back short of a restart: the failed disk may have dropped writes
   * that the broker believes are there.
   */
  takeLogDirOffline(dir: string, err: unknown): void {
    const state = this.dirs.get(dir);
    if (state === undefined || state.offline) return;
    state.offline = true;
    let count = 0;
    for (const [key, log] of this.logsByKey) {
      if (this.logDirOf(log) !== dir) continue;
      this.logsByKey.delete(key);
      this.unindexByTopic(log);
      this.offlineLogs.set(key, log);
      log.takeOffline(err);
      count++;
    }
    state.logCount = 0;
    const online = this.logDirs.length - this.offlineLogDirs().length;
    const cause = (err as Error)?.message ?? String(err);
    (this.logger.error ?? this.logger.warn).call(this.logger,
      `Log directory ${dir} is offline after an I/O error (${cause}); its ${count} partitions answer KAFKA_STORAGE_ERROR until a restart. ${online} of ${this.logDirs.length} log directories remain online.`);
    this.options.onLogDirFailure?.(dir, err);
  }

  /** A full disk fails each append alone; one warning per directory every NO_SPACE_WARNING_INTERVAL_MS. */
  warnNoSpace(dir: string, message: string): void {
    const state = this.dirs.get(dir);
    const now = this.clock.now();
    if (state !== undefined) {
      if (now - state.lastNoSpaceWarningMs < NO_SPACE_WARNING_INTERVAL_MS) return;
      state.lastNoSpaceWarningMs = now;
    }
    this.logger.warn(`No space left in log directory ${dir}: appends fail with KAFKA_STORAGE_ERROR (retriable) until space is freed; nothing acknowledged is lost (${message})`);
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
    await this.cleaner.shutdown();
    // Many at once, so that their fsyncs share journal commits (see Log.close); bounded so
    // that 10,000 partitions do not open 40,000 files at the same time.
    const logs = [...this.logsByKey.values()];
    let next = 0;
    const unclean = new Set<string>();
    const closeNext = async (): Promise<void> => {
      while (next < logs.length) {
        const log = logs[next++]!;
        // A failing close has taken its directory offline, or found the disk full; either
        // way that directory gets no clean marker (the next start recovers it). Go on.
        await log.close({ parentDirSynced: true }).catch((err: unknown) => {
          const dir = this.logDirOf(log);
          unclean.add(dir);
          if (isNoSpace(err)) this.warnNoSpace(dir, (err as Error).message);
          else this.ioError(err, log);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, logs.length) }, closeNext));
    this.checkpoint();
    await Promise.all([...this.background]);
    for (const dir of this.logDirs) {
      if (!this.isLogDirOnline(dir) || unclean.has(dir)) continue;
      try {
        const fd = this.fs.openSync(path.join(dir, CLEAN_SHUTDOWN_FILE), 'w');
        try {
          this.fs.fsyncSync(fd);
        } finally {
          this.fs.closeSync(fd);
        }
        fsyncDir(dir, this.fs);
      } catch (err) {
        // No marker on a full disk: the next start recovers, nothing is lost.
        if (isNoSpace(err)) this.warnNoSpace(dir, (err as Error).message);
        else this.ioError(err, dir);
      }
    }
  }

  /** Stops everything without flushing or writing: the state a kill -9 leaves (tests). */
  abandon(): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.cleaner.abandon();
    for (const log of this.logsByKey.values()) log.abandon();
    for (const log of this.offlineLogs.values()) log.abandon();
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
