/**
 * Wall-clock time in milliseconds. Injected everywhere time matters (segment.ms roll,
 * retention.ms, flush.ms, log append time) so tests advance time instead of sleeping.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
