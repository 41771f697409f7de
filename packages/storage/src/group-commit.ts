/**
 * Group commit: many callers wait for their data to be durable, one fdatasync serves them
 * all. A flush always covers everything appended before it starts, so while one runs the
 * waiters that arrive pile up and the next flush releases the whole pile.
 *
 * Two ways to run the fsync, chosen per log manager (README, "Measurements"):
 *  - 'sync': the flush starts on setImmediate, so every append made in the same turn of
 *    the event loop joins it, then runs fdatasyncSync; the loop is blocked for one fsync.
 *  - 'async': fdatasync runs on the libuv thread pool; the loop keeps accepting appends
 *    meanwhile, and they join the next flush.
 */
import { StorageError, StorageErrorCode } from './errors.js';

export type FsyncMode = 'sync' | 'async';

interface Waiter {
  endOffset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitTarget {
  /** Offset below which everything is durable (the recovery point). */
  durableOffset(): number;
  /** Offset a flush started now would make durable (the log end offset). */
  endOffset(): number;
  /** True once the log is closed: flushes then do nothing. */
  isClosed(): boolean;
  /** Makes everything below `target` durable; returns a promise in async mode. */
  flushTo(target: number): void | Promise<void>;
}

export class GroupCommit {
  private readonly target: GroupCommitTarget;
  private readonly mode: FsyncMode;
  private waiters: Waiter[] = [];
  private running: Promise<void> | null = null;
  private scheduled = false;
  /** Number of flushes run; a test and benchmark figure (waiters per fsync). */
  flushCount = 0;

  constructor(target: GroupCommitTarget, mode: FsyncMode) {
    this.target = target;
    this.mode = mode;
  }

  /** Resolves once every offset below `endOffset` is durable. */
  waitFor(endOffset: number): Promise<void> {
    if (this.target.durableOffset() >= endOffset) return Promise.resolve();
    // Offsets past the log end do not exist yet; waiting for them would flush forever.
    const bounded = Math.min(endOffset, this.target.endOffset());
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ endOffset: bounded, resolve, reject });
      this.kick();
    });
  }

  /** Resolves when no flush is in progress (segment deletion waits for this before closing files). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running.catch(() => undefined);
  }

  private kick(): void {
    if (this.running !== null || this.scheduled) return;
    this.scheduled = true;
    // Sync mode defers to setImmediate so that appends of this event-loop turn share the
    // fsync; async mode starts at once, since the loop stays free while it runs.
    if (this.mode === 'sync') setImmediate(() => this.start());
    else queueMicrotask(() => this.start());
  }

  private start(): void {
    this.scheduled = false;
    if (this.running !== null || this.waiters.length === 0) return;
    const run = this.runOnce();
    this.running = run;
    run.finally(() => {
      this.running = null;
      if (this.waiters.length > 0) this.kick();
    }).catch(() => undefined);
  }

  private async runOnce(): Promise<void> {
    const goal = this.target.endOffset();
    try {
      this.flushCount++;
      await this.target.flushTo(goal);
    } catch (err) {
      const failed = this.waiters;
      this.waiters = [];
      for (const w of failed) w.reject(err);
      return;
    }
    const durable = this.target.durableOffset();
    const end = this.target.endOffset();
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.endOffset <= durable) w.resolve();
      else if (w.endOffset > end) {
        w.reject(new StorageError(StorageErrorCode.OFFSET_OUT_OF_RANGE, `Waited for offsets below ${w.endOffset} to be flushed, but the log was truncated to ${end}`));
      } else still.push(w);
    }
    this.waiters = still;
    // A closed log no longer flushes: fail the rest instead of flushing forever.
    if (still.length > 0 && this.target.isClosed()) {
      this.failAll(new StorageError(StorageErrorCode.LOG_CLOSED, `Flush to ${goal} stopped at ${durable}: the log is closed`));
    }
  }

  /** Rejects every waiter (log closed or deleted). */
  failAll(err: unknown): void {
    const failed = this.waiters;
    this.waiters = [];
    for (const w of failed) w.reject(err);
  }
}
