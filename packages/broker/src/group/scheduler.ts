/**
 * Time and timers for the coordinator, injected so that tests drive session timeouts,
 * rebalance timeouts and offset expiry with a manual clock instead of sleeping (the tests'
 * ManualScheduler, packages/broker/test/helpers/manual-scheduler.ts).
 */
export interface Scheduler {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`; the returned function cancels it (idempotent). */
  schedule(delayMs: number, fn: () => void): () => void;
}

/** Wall-clock time and Node timers. Timers are unref'd: a pending session timeout must not keep a process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    handle.unref();
    return () => clearTimeout(handle);
  },
};
