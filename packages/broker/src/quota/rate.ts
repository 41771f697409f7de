/**
 * A rate over sampled windows, as Kafka's metrics `Rate` over a `SampledStat` measures
 * quota usage: `quota.window.num` samples (default 11) of `quota.window.size.seconds`
 * (default 1 s) each. A value is added to the current sample; a sample older than its
 * window starts the next one; samples older than all windows together are reset. The
 * rate is the sum of the live samples divided by the window size, which is the time since
 * the oldest live sample began but never less than (samples - 1) full windows, so that a
 * client's first burst is averaged over ~10 s rather than over the milliseconds it took.
 *
 * Throttle time (Kafka's ClientQuotaManager.throttleTime): when the rate exceeds the quota
 * the client is held back for `(rate - quota) / quota * windowSize`, the time after which
 * the same total over the window would be exactly at the quota.
 *
 * Time is passed in (`nowMs`), so tests drive it without sleeping.
 */

export interface RateWindow {
  /** `quota.window.num`: how many samples the rate is computed over. */
  readonly samples: number;
  /** `quota.window.size.seconds` in ms: the length of one sample. */
  readonly sampleMs: number;
}

export const DEFAULT_RATE_WINDOW: RateWindow = { samples: 11, sampleMs: 1000 };

interface Sample {
  startMs: number;
  value: number;
}

export class SampledRate {
  private readonly samples: Sample[] = [];
  private current = 0;

  constructor(private readonly window: RateWindow = DEFAULT_RATE_WINDOW) {}

  record(value: number, nowMs: number): void {
    let sample = this.samples[this.current];
    if (sample === undefined) {
      sample = { startMs: nowMs, value: 0 };
      this.samples.push(sample);
    } else if (nowMs >= sample.startMs + this.window.sampleMs) {
      this.current = (this.current + 1) % this.window.samples;
      sample = this.samples[this.current];
      if (sample === undefined) {
        sample = { startMs: nowMs, value: 0 };
        this.samples.push(sample);
      } else {
        sample.startMs = nowMs;
        sample.value = 0;
      }
    }
    sample.value += value;
  }

  /** Units per second over the window. */
  measure(nowMs: number): number {
    this.purge(nowMs);
    let total = 0;
    for (const s of this.samples) total += s.value;
    return total / (this.windowSizeMs(nowMs) / 1000);
  }

  /** Kafka's Rate.windowSize: elapsed since the oldest live sample, at least samples - 1 full windows, at least 1 ms. */
  windowSizeMs(nowMs: number): number {
    this.purge(nowMs);
    let oldest = nowMs;
    for (const s of this.samples) if (s.startMs < oldest) oldest = s.startMs;
    let elapsedMs = nowMs - oldest;
    const fullWindows = Math.floor(elapsedMs / this.window.sampleMs);
    const minFullWindows = this.window.samples - 1;
    if (fullWindows < minFullWindows) elapsedMs += (minFullWindows - fullWindows) * this.window.sampleMs;
    return Math.max(elapsedMs, 1);
  }

  /** Resets samples that ended more than the whole window ago (Kafka's purgeObsoleteSamples). */
  private purge(nowMs: number): void {
    const expireAgeMs = this.window.samples * this.window.sampleMs;
    for (const s of this.samples) {
      if (nowMs - s.startMs >= expireAgeMs) {
        s.startMs = nowMs;
        s.value = 0;
      }
    }
  }

  /**
   * Records `value` and returns how long the client must be held back, 0 when the rate
   * is within `quota` (Kafka records first, then checks the bound).
   */
  recordAndGetThrottleTimeMs(value: number, quota: number, nowMs: number): number {
    this.record(value, nowMs);
    const rate = this.measure(nowMs);
    if (rate <= quota) return 0;
    return Math.round(((rate - quota) / quota) * this.windowSizeMs(nowMs));
  }
}
