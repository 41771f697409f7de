/**
 * The allowance client quotas are enforced with, configured by Kafka's quota windows
 * (`quota.window.num` samples of `quota.window.size.seconds`, default 11 x 1 s).
 *
 * Kafka measures quota usage with a sampled Rate (metrics `Rate` over a `SampledStat`):
 * the sum of the last samples divided by the time they cover, never less than
 * samples - 1 windows, and throttles for `(rate - quota) / quota * windowSize`. So a new
 * client may send ~10 s worth of quota at once, and then is held to the quota.
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

/**
 * The quota allowance Tributary throttles with: a token bucket over the same windows
 * (Kafka's TokenBucket, KIP-599). It holds up to `(samples - 1) * sampleMs` worth of quota,
 * the burst Kafka's sampled rate lets a new client send at once (its window is never
 * shorter than samples - 1 windows); it refills at the quota; a value is taken from it,
 * and a client that took it below zero is throttled until it refills to zero.
 *
 * Why not Kafka's sampled rate: with it a client that sends as fast as it may gets its
 * ~10 s burst back every 11 s, when the sample holding the previous burst expires, so its
 * rate over any 10-30 s swings 25% around the quota (a simulation of a saturating client
 * measured 0.73-1.12 x quota). The bucket allows the same first burst and the same long-run
 * rate, and holds a saturating client at the quota within a few percent from then on.
 */
export class TokenBucket {
  private tokens: number | null = null;
  private lastMs = 0;

  constructor(private readonly window: RateWindow = DEFAULT_RATE_WINDOW) {}

  /** Takes `value` and returns the throttle time in ms (0 while the bucket is not below zero). */
  recordAndGetThrottleTimeMs(value: number, quota: number, nowMs: number): number {
    const burst = quota * (Math.max(1, this.window.samples - 1) * this.window.sampleMs) / 1000;
    if (this.tokens === null) {
      this.tokens = burst;
    } else {
      const elapsedMs = Math.max(0, nowMs - this.lastMs);
      this.tokens = Math.min(burst, this.tokens + (quota * elapsedMs) / 1000);
    }
    this.lastMs = nowMs;
    this.tokens -= value;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / quota) * 1000);
  }
}
