/**
 * A test hook loaded into each fault-suite broker with `--import` (harness.ts): when
 * TRIBUTARY_TEST_CLOCK_SKEW_FILE is set, the process's wall clock (`Date.now()`, `new
 * Date()`) runs offset by the integer milliseconds in that file, re-read every
 * SKEW_POLL_MS. That is what an NTP step or an operator's `date -s` does to a broker: the
 * wall clock jumps, monotonic time (performance.now, process.hrtime, timers) does not.
 * No broker code changes; without the variable this module does nothing.
 */
import { readFileSync } from 'node:fs';

/** How often the file is re-read: a jump takes effect within this. */
const SKEW_POLL_MS = 100;

const file = process.env['TRIBUTARY_TEST_CLOCK_SKEW_FILE'];
if (file !== undefined && file !== '') {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  let offsetMs = 0;
  const read = (): void => {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());
      offsetMs = Number.isFinite(v) ? v : 0;
    } catch {
      offsetMs = 0;
    }
  };
  read();
  setInterval(read, SKEW_POLL_MS).unref();
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offsetMs);
      else super(...(args as [string]));
    }

    static override now(): number {
      return realNow() + offsetMs;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
