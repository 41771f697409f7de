/**
 * The log cleaner (Kafka's LogCleaner + LogCleanerManager) on the main thread: it chooses
 * what to clean and swaps the result in; the cleaning itself (reading, hashing, rewriting
 * segments) runs in `log.cleaner.threads` worker threads (log-cleaner-worker.ts,
 * log-cleaner-core.ts), so the event loop serving requests never does it.
 *
 * Choosing (Kafka's grabFilthiestCompactedLog): among logs with `compact` in
 * cleanup.policy, online, not being cleaned and not marked uncleanable, the one with the
 * highest dirty ratio = dirty bytes / (clean + dirty bytes) above its
 * min.cleanable.dirty.ratio, or any with dirty data older than max.compaction.lag.ms.
 *   - clean section: [log start offset, first dirty offset), the first dirty offset being
 *     this log's entry in `<logDir>/cleaner-offset-checkpoint` (Kafka's file and format),
 *     reset to the log start offset when outside [log start, log end];
 *   - dirty section: [first dirty offset, first uncleanable offset), the latter the lowest
 *     of the active segment's base offset, the high watermark, the recovery point (the
 *     cleaner reads only fsynced data) and the base offset of the first segment with data
 *     newer than min.compaction.lag.ms, rounded down to a segment boundary: only whole
 *     segments are cleaned.
 *
 * Swapping: each cleaned group replaces its old segments through Log.replaceCleanedSegments,
 * synchronously on the main thread (so readers see the old or the new segments, never a
 * mix), and only if those segments are unchanged since the task was made. Then the
 * checkpoint moves to the clean's end offset. A log whose clean fails (a damaged batch)
 * is marked uncleanable until restart, as Kafka does, with one error line.
 *
 * Differences from Kafka: the io throttle (`log.cleaner.io.max.bytes.per.second`) is
 * split evenly between threads rather than shared; the offset map is sized per clean up
 * to the thread's share of `log.cleaner.dedupe.buffer.size` (Kafka allocates it whole at
 * start-up); `log.cleaner.io.buffer.size` is not used (reads are 1 MiB).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkpointKey, readCheckpointFile, writeCheckpointFile } from './checkpoint-file.js';
import type { FileSystem } from './file-system.js';
import { CLEANED_FILE_SUFFIX } from './file-names.js';
import type { Log } from './log.js';
import type { CleanResult, CleanTask } from './log-cleaner-core.js';
import { cleanLog } from './log-cleaner-core.js';
import { OFFSET_MAP_BYTES_PER_ENTRY, OFFSET_MAP_LOAD_FACTOR } from './log-cleaner-offset-map.js';
import { LogSegment } from './log-segment.js';

export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';

/** Kafka's max.compaction.lag.ms default (Long.MAX_VALUE): no deadline. */
const NO_MAX_COMPACTION_LAG = Number.MAX_SAFE_INTEGER;
/** Smallest offset map a clean gets (the estimate below can be tiny for a small dirty section). */
const MIN_OFFSET_MAP_BYTES = 64 * 1024;
/** Smallest possible v2 record (protocol's MIN_RECORD_SIZE): the most records a dirty byte count can hold. */
const MIN_RECORD_BYTES = 7;

/** The broker's `log.cleaner.*` settings (Kafka's CleanerConfig). */
export interface CleanerConfig {
  /** log.cleaner.enable */
  enable: boolean;
  /** log.cleaner.threads */
  threads: number;
  /** log.cleaner.dedupe.buffer.size: offset-map memory of all threads together. */
  dedupeBufferSize: number;
  /** log.cleaner.io.max.bytes.per.second: read + write rate of all threads together. */
  ioMaxBytesPerSecond: number;
  /** log.cleaner.backoff.ms: sleep when there is nothing to clean. */
  backoffMs: number;
}

export const DEFAULT_CLEANER_CONFIG: Readonly<CleanerConfig> = {
  enable: true,
  threads: 1,
  dedupeBufferSize: 134217728,
  ioMaxBytesPerSecond: Number.MAX_VALUE,
  backoffMs: 15000,
};

/** What the cleaner needs of the LogManager. */
export interface CleanerHost {
  readonly logDirs: readonly string[];
  readonly fs: FileSystem;
  allLogs(): Log[];
  logDirOf(log: Log): string;
  logsIn(dir: string): Log[];
  isLogDirOnline(dir: string): boolean;
  now(): number;
  info(message: string): void;
  warn(message: string): void;
}

/** One finished clean, as logged. */
export interface CleanStats {
  topicPartition: string;
  firstDirtyOffset: number;
  endOffset: number;
  bytesRead: number;
  bytesWritten: number;
  /** Bytes of the replaced segments before and after. */
  sizeBefore: number;
  sizeAfter: number;
  recordsRead: number;
  recordsKept: number;
  elapsedMs: number;
  /** False when the log changed under the clean and the result was thrown away. */
  swapped: boolean;
}

/** Counters since start (the cleaner's metrics: Kafka's max-dirty-percent and friends are in the log lines). */
export interface CleanerCounters {
  cleans: number;
  bytesRead: number;
  bytesWritten: number;
  bytesReclaimed: number;
  abortedCleans: number;
  failedCleans: number;
}

export interface CleanableLog {
  log: Log;
  firstDirtyOffset: number;
  /** The cleanable segments: every segment wholly below the first uncleanable offset. */
  segments: LogSegment[];
  segmentsEndOffset: number;
  cleanBytes: number;
  dirtyBytes: number;
  dirtyRatio: number;
  needCompactionNow: boolean;
}

/**
 * The cleanable part of `log`, or null when it has none (see the top of this file).
 * `checkpoint`: its first dirty offset from cleaner-offset-checkpoint, if any.
 */
export function cleanableLog(log: Log, checkpoint: number | undefined, nowMs: number): CleanableLog | null {
  if (log.isClosed || !log.config.cleanupPolicy.includes('compact')) return null;
  const segs = log.segments;
  const firstDirty = checkpoint !== undefined && checkpoint >= log.logStartOffset && checkpoint <= log.logEndOffset ? checkpoint : log.logStartOffset;
  // Kafka's firstUncleanableOffset: the active segment, the high watermark, and the last
  // stable offset (a transaction still open or unreplicated is never cleaned).
  let uncleanable = Math.min(log.activeSegment.baseOffset, log.lastStableOffset, log.recoveryPoint);
  const { minCompactionLagMs, maxCompactionLagMs } = log.config;
  const firstDirtyIndex = log.floorSegmentIndex(firstDirty);
  if (minCompactionLagMs > 0) {
    for (let i = firstDirtyIndex; i < segs.length - 1; i++) {
      const seg = segs[i]!;
      if (seg.baseOffset >= uncleanable) break;
      if (seg.largestTimestamp() > nowMs - minCompactionLagMs) {
        uncleanable = Math.min(uncleanable, seg.baseOffset);
        break;
      }
    }
  }
  let n = 0;
  while (n < segs.length - 1 && segs[n + 1]!.baseOffset <= uncleanable) n++;
  if (n === 0) return null;
  const segmentsEndOffset = segs[n]!.baseOffset;
  if (firstDirty >= segmentsEndOffset) return null;
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (let i = 0; i < n; i++) {
    if (segs[i + 1]!.baseOffset > firstDirty) dirtyBytes += segs[i]!.size;
    else cleanBytes += segs[i]!.size;
  }
  if (dirtyBytes === 0) return null;
  let needCompactionNow = false;
  if (maxCompactionLagMs < NO_MAX_COMPACTION_LAG) {
    const first = segs[firstDirtyIndex]!;
    const ts = first.firstTimestamp();
    const started = ts !== null && ts >= 0 ? ts : first.createdMs;
    needCompactionNow = started < nowMs - maxCompactionLagMs;
  }
  return {
    log,
    firstDirtyOffset: firstDirty,
    segments: segs.slice(0, n),
    segmentsEndOffset,
    cleanBytes,
    dirtyBytes,
    dirtyRatio: dirtyBytes / (cleanBytes + dirtyBytes),
    needCompactionNow,
  };
}

interface WorkerSlot {
  worker: Worker | null;
  busy: boolean;
}

export class LogCleaner {
  readonly config: Readonly<CleanerConfig>;
  private readonly host: CleanerHost;
  /** Run cleans on the event loop with the host's FileSystem (tests that inject faults). */
  private readonly inline: boolean;
  /** First dirty offsets, by checkpointKey, of every log dir. */
  private readonly checkpoints = new Map<string, number>();
  private readonly inProgress = new Set<Log>();
  private readonly uncleanable = new Set<Log>();
  private readonly slots: WorkerSlot[];
  private readonly pending = new Map<number, { resolve: (r: CleanResult) => void; reject: (e: Error) => void }>();
  private nextTaskId = 1;
  private stopped = false;
  private running = false;
  private readonly sleepers = new Set<() => void>();
  private readonly threadLoops: Promise<void>[] = [];
  readonly counters: CleanerCounters = { cleans: 0, bytesRead: 0, bytesWritten: 0, bytesReclaimed: 0, abortedCleans: 0, failedCleans: 0 };

  constructor(host: CleanerHost, config: Partial<CleanerConfig> = {}, options: { inline?: boolean } = {}) {
    this.host = host;
    this.config = { ...DEFAULT_CLEANER_CONFIG, ...config };
    this.inline = options.inline ?? false;
    this.slots = Array.from({ length: Math.max(1, this.config.threads) }, () => ({ worker: null, busy: false }));
    for (const dir of host.logDirs) {
      try {
        for (const [key, offset] of readCheckpointFile(path.join(dir, CLEANER_OFFSET_CHECKPOINT), host.fs)) this.checkpoints.set(key, offset);
      } catch (err) {
        // A damaged checkpoint costs a full clean of every log, no data: warn and start over.
        host.warn(`Ignoring ${path.join(dir, CLEANER_OFFSET_CHECKPOINT)}: ${(err as Error).message}`);
      }
    }
  }

  /** Starts the cleaner threads' loops (log.cleaner.enable). */
  start(): void {
    if (this.running || this.stopped || !this.config.enable) return;
    this.running = true;
    for (let i = 0; i < this.slots.length; i++) this.threadLoops.push(this.threadLoop());
  }

  private async threadLoop(): Promise<void> {
    while (!this.stopped) {
      let cleaned: CleanStats | null = null;
      try {
        cleaned = await this.cleanFilthiest();
      } catch (err) {
        this.host.warn(`Log cleaner pass failed: ${(err as Error).message}`);
      }
      // Back off too after a clean that did nothing (an open transaction at the first dirty
      // offset, a discarded swap): the same log would be picked again at once.
      if ((cleaned === null || !cleaned.swapped) && !this.stopped) await this.sleep(this.config.backoffMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }

  /** Wakes sleeping cleaner threads (a test, or a config change making a log cleanable). */
  wakeUp(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /** The first dirty offset the checkpoint holds for a log (undefined before its first clean). */
  firstDirtyOffsetOf(log: Log): number | undefined {
    return this.checkpoints.get(checkpointKey(log.topic, log.partition));
  }

  /** The logs that could be cleaned now, filthiest first. */
  cleanableLogs(nowMs: number): CleanableLog[] {
    const out: CleanableLog[] = [];
    for (const log of this.host.allLogs()) {
      if (this.inProgress.has(log) || this.uncleanable.has(log)) continue;
      const c = cleanableLog(log, this.firstDirtyOffsetOf(log), nowMs);
      if (c === null) continue;
      if (c.needCompactionNow || c.dirtyRatio > log.config.minCleanableDirtyRatio) out.push(c);
    }
    return out.sort((a, b) => Number(b.needCompactionNow) - Number(a.needCompactionNow) || b.dirtyRatio - a.dirtyRatio);
  }

  /** Cleans the filthiest cleanable log, if any (what a cleaner thread does per pass). */
  async cleanFilthiest(): Promise<CleanStats | null> {
    if (this.stopped) return null;
    const slot = this.slots.find((s) => !s.busy);
    if (slot === undefined) return null;
    const chosen = this.cleanableLogs(this.host.now())[0];
    if (chosen === undefined) return null;
    return this.clean(chosen, slot);
  }

  /** Cleans `log` now if it has anything cleanable, whatever its dirty ratio (tests, tools). */
  async cleanLogNow(log: Log): Promise<CleanStats | null> {
    if (this.stopped || this.inProgress.has(log)) return null;
    const c = cleanableLog(log, this.firstDirtyOffsetOf(log), log.clock.now());
    const slot = this.slots.find((s) => !s.busy);
    if (c === null || slot === undefined) return null;
    return this.clean(c, slot);
  }

  private async clean(c: CleanableLog, slot: WorkerSlot): Promise<CleanStats | null> {
    const log = c.log;
    slot.busy = true;
    this.inProgress.add(log);
    const started = performance.now();
    const perThreadMapBytes = Math.floor(this.config.dedupeBufferSize / this.slots.length);
    const estimatedEntries = Math.ceil(c.dirtyBytes / MIN_RECORD_BYTES / OFFSET_MAP_LOAD_FACTOR);
    const task: CleanTask = {
      dir: log.dir,
      topicPartition: log.topicPartition,
      segments: c.segments.map((s) => ({ baseOffset: s.baseOffset, size: s.size })),
      segmentsEndOffset: c.segmentsEndOffset,
      firstDirtyOffset: c.firstDirtyOffset,
      nowMs: log.clock.now(),
      deleteRetentionMs: log.config.deleteRetentionMs,
      segmentBytes: log.config.segmentBytes,
      indexIntervalBytes: log.config.indexIntervalBytes,
      maxIndexBytes: log.config.segmentIndexBytes,
      offsetMapBytes: Math.max(MIN_OFFSET_MAP_BYTES, Math.min(perThreadMapBytes, estimatedEntries * OFFSET_MAP_BYTES_PER_ENTRY)),
      ioMaxBytesPerSecond: this.config.ioMaxBytesPerSecond >= Number.MAX_VALUE ? Infinity : this.config.ioMaxBytesPerSecond / this.slots.length,
    };
    try {
      let result: CleanResult;
      try {
        result = this.inline ? await cleanLog(task, log.fs) : await this.runInWorker(slot, task);
      } catch (err) {
        this.removeCleanedFiles(log);
        if (this.stopped || log.isClosed) return null;
        this.uncleanable.add(log);
        this.counters.failedCleans++;
        this.host.warn(`Log cleaner failed on ${log.topicPartition}; it is marked uncleanable until restart: ${(err as Error).message ?? String(err)}`);
        return null;
      }
      return this.swapIn(c, task, result, started);
    } finally {
      slot.busy = false;
      this.inProgress.delete(log);
    }
  }

  /** Swaps the cleaned groups in, moves the checkpoint, logs the clean. */
  private swapIn(c: CleanableLog, task: CleanTask, result: CleanResult, started: number): CleanStats {
    const log = c.log;
    const byBase = new Map(c.segments.map((s) => [s.baseOffset, s]));
    let sizeBefore = 0;
    let sizeAfter = 0;
    const groups = result.groups.map((group) => {
      for (const s of group.oldSizes) sizeBefore += s;
      sizeAfter += group.size;
      return {
        old: group.oldBaseOffsets.map((b) => byBase.get(b)!),
        oldSizes: group.oldSizes,
        cleaned: LogSegment.open(log.dir, group.oldBaseOffsets[0]!, group.size, log.segmentSettings(), log.clock.now(), CLEANED_FILE_SUFFIX),
      };
    });
    if (groups.length === 0) {
      return { topicPartition: log.topicPartition, firstDirtyOffset: task.firstDirtyOffset, endOffset: result.endOffset, bytesRead: result.bytesRead, bytesWritten: 0, sizeBefore: 0, sizeAfter: 0, recordsRead: 0, recordsKept: 0, elapsedMs: performance.now() - started, swapped: false };
    }
    const swapped = !this.stopped && !log.isClosed && log.replaceCleanedSegments(groups);
    if (!swapped) {
      sizeBefore = 0;
      sizeAfter = 0;
    }
    const elapsedMs = performance.now() - started;
    const stats: CleanStats = {
      topicPartition: log.topicPartition,
      firstDirtyOffset: task.firstDirtyOffset,
      endOffset: result.endOffset,
      bytesRead: result.bytesRead,
      bytesWritten: result.bytesWritten,
      sizeBefore,
      sizeAfter,
      recordsRead: result.recordsRead,
      recordsKept: result.recordsKept,
      elapsedMs,
      swapped,
    };
    if (!swapped) {
      // The log changed under the clean (retention, truncation, deletion): throw the rest away.
      this.removeCleanedFiles(log);
      this.counters.abortedCleans++;
      this.host.info(`Log cleaner: the clean of ${log.topicPartition} was discarded, its segments changed meanwhile`);
      return stats;
    }
    this.checkpoints.set(checkpointKey(log.topic, log.partition), result.endOffset);
    this.writeCheckpoint(this.host.logDirOf(log));
    this.counters.cleans++;
    this.counters.bytesRead += result.bytesRead;
    this.counters.bytesWritten += result.bytesWritten;
    this.counters.bytesReclaimed += sizeBefore - sizeAfter;
    this.host.info(
      `Log cleaner cleaned ${log.topicPartition} offsets [${task.firstDirtyOffset}, ${result.endOffset}) in ${elapsedMs.toFixed(0)} ms: ` +
        `${result.groups.length} segment group(s), ${formatBytes(sizeBefore)} -> ${formatBytes(sizeAfter)} (${sizeBefore > 0 ? ((100 * sizeAfter) / sizeBefore).toFixed(1) : '100.0'}% kept), ` +
        `read ${formatBytes(result.bytesRead)} at ${formatBytes(result.bytesRead / Math.max(elapsedMs / 1000, 0.001))}/s, wrote ${formatBytes(result.bytesWritten)}, ` +
        `${result.recordsKept}/${result.recordsRead} records kept, map ${result.mapEntries} keys, throttled ${result.throttledMs.toFixed(0)} ms; ` +
        `totals: ${this.counters.cleans} cleans, ${formatBytes(this.counters.bytesReclaimed)} reclaimed`,
    );
    return stats;
  }

  private runInWorker(slot: WorkerSlot, task: CleanTask): Promise<CleanResult> {
    const worker = slot.worker ?? (slot.worker = this.startWorker(slot));
    const id = this.nextTaskId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, task });
    });
  }

  private startWorker(slot: WorkerSlot): Worker {
    // From the built package the worker is the .js beside this file; from sources (tests
    // run through tsx) it is the .ts, which a worker can load only after registering tsx.
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './log-cleaner-worker.ts' : './log-cleaner-worker.js', import.meta.url);
    const worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true })
      : new Worker(url);
    worker.unref();
    worker.on('message', (msg: { id: number; result?: CleanResult; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result!);
    });
    const failAll = (err: Error): void => {
      slot.worker = null;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(err);
      }
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`log cleaner thread exited with code ${code}`)));
    return worker;
  }

  /** Removes `.cleaned` files a failed or discarded clean left in the log's directory. */
  private removeCleanedFiles(log: Log): void {
    try {
      for (const name of this.host.fs.readdirSync(log.dir)) {
        if (name.endsWith(CLEANED_FILE_SUFFIX)) this.host.fs.rmSync(path.join(log.dir, name), { force: true });
      }
    } catch {
      // The directory is gone (topic deleted) or failing; the next load removes leftovers.
    }
  }

  /** Writes `<dir>/cleaner-offset-checkpoint` with the logs of that directory. */
  writeCheckpoint(dir: string): void {
    if (!this.host.isLogDirOnline(dir)) return;
    const entries = new Map<string, number>();
    for (const log of this.host.logsIn(dir)) {
      const key = checkpointKey(log.topic, log.partition);
      const offset = this.checkpoints.get(key);
      if (offset !== undefined) entries.set(key, offset);
    }
    try {
      writeCheckpointFile(path.join(dir, CLEANER_OFFSET_CHECKPOINT), entries, this.host.fs);
    } catch (err) {
      // Losing it costs a re-clean from the log start, never data.
      this.host.warn(`Could not write ${path.join(dir, CLEANER_OFFSET_CHECKPOINT)}: ${(err as Error).message}`);
    }
  }

  /** Stops the threads; a clean in progress is abandoned (its `.cleaned` files go at the next load). */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.wakeUp();
    const workers = this.slots.map((s) => s.worker).filter((w): w is Worker => w !== null);
    await Promise.all(workers.map((w) => w.terminate()));
    await Promise.allSettled(this.threadLoops);
  }

  /** Crash simulation: workers terminated, nothing written. */
  abandon(): void {
    this.stopped = true;
    this.wakeUp();
    for (const s of this.slots) void s.worker?.terminate();
  }
}

/** Bytes for log lines: B, KiB, MiB or GiB, one decimal. */
function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(1)} GiB`;
}
