/**
 * Client quotas enforced by the broker (Kafka's ClientQuotaManager for the `Produce` and
 * `Fetch` byte rates, ClientRequestQuotaManager for `request_percentage`).
 *
 * Each kind of quota keeps one allowance (rate.ts) per sharing group, the (user, client-id)
 * tags of the entity whose quota applies (client-quota-entity.ts): produced request bytes,
 * fetched response bytes, and request handling time as a percentage of one thread
 * (`request_percentage` 100 = one thread fully busy). A request is always recorded; when
 * the rate is over the quota the caller gets the time to hold the client back. A client
 * without any quota (the default: no entity sets the key) costs nothing but a map lookup.
 *
 * Quotas are read from the metadata store (MetadataStore.clientQuotas), which returns the
 * same array until the quotas change; the resolved quota per (user, client-id) is cached
 * against that array, so a change takes effect on the next request.
 *
 * Differences from Kafka:
 * - Request time is the time the event loop spent in the handler and encoding the
 *   response (synchronous work), not Kafka's request-handler plus network thread time;
 *   with one event loop it is the same kind of cost.
 * - The allowance is a token bucket over Kafka's windows, not Kafka's sampled rate (see
 *   rate.ts): the same first burst and long-run rate, without Kafka's recurring bursts.
 * - Rates idle for an hour are dropped, as Kafka expires its quota sensors.
 */
import type { ClientQuotaEntry, ResolvedQuota } from './client-quota-entity.js';
import { entityKey, QuotaKey, quotaUserName, resolveQuota } from './client-quota-entity.js';
import type { RateWindow } from './rate.js';
import { DEFAULT_RATE_WINDOW, TokenBucket } from './rate.js';

export type ClientQuotaType = 'produce' | 'fetch' | 'request';

const KEY_BY_TYPE: Readonly<Record<ClientQuotaType, string>> = {
  produce: QuotaKey.PRODUCER_BYTE_RATE,
  fetch: QuotaKey.CONSUMER_BYTE_RATE,
  request: QuotaKey.REQUEST_PERCENTAGE,
};

/** Kafka drops a quota sensor after an hour without use (ClientQuotaManager's InactiveSensorExpirationTimeSeconds). */
const INACTIVE_RATE_EXPIRY_MS = 3600_000;
/** How often idle rates are looked for (at most once per this many ms, on a record). */
const EXPIRY_SWEEP_INTERVAL_MS = 60_000;

interface TrackedRate {
  readonly rate: TokenBucket;
  lastUsedMs: number;
}

export interface ClientQuotaManagerOptions {
  /** The quotas, from MetadataStore.clientQuotas; the same array until they change. */
  readonly entries: () => readonly ClientQuotaEntry[] | undefined;
  readonly window?: RateWindow;
}

export class ClientQuotaManager {
  private readonly window: RateWindow;
  private seenEntries: readonly ClientQuotaEntry[] | undefined = undefined;
  private byEntity = new Map<string, ClientQuotaEntry>();
  /** `${type}\0${user}\0${clientId}` -> quota (null: unlimited), valid for `seenEntries`. */
  private readonly resolved = new Map<string, ResolvedQuota | null>();
  private readonly rates = new Map<string, TrackedRate>();
  private lastSweepMs = 0;

  constructor(private readonly options: ClientQuotaManagerOptions) {
    this.window = options.window ?? DEFAULT_RATE_WINDOW;
  }

  /** The largest hold a request quota may impose: one sample window (Kafka's ClientRequestQuotaManager bound). */
  get requestThrottleMaxMs(): number {
    return this.window.sampleMs;
  }

  /** False while no entity has any quota: requests then skip the quota work entirely. */
  get enabled(): boolean {
    this.refresh();
    return this.byEntity.size > 0;
  }

  private refresh(): void {
    const entries = this.options.entries();
    if (entries !== this.seenEntries) {
      this.seenEntries = entries;
      this.byEntity = new Map((entries ?? []).map((e) => [entityKey(e.entity), e]));
      this.resolved.clear();
    }
  }

  /** The quota that applies, or undefined when the client is unlimited for this type. */
  quota(type: ClientQuotaType, principal: string, clientId: string): ResolvedQuota | undefined {
    this.refresh();
    if (this.byEntity.size === 0) return undefined;
    const user = quotaUserName(principal);
    const cacheKey = `${type}\0${user}\0${clientId}`;
    let found = this.resolved.get(cacheKey);
    if (found === undefined) {
      found = resolveQuota(this.byEntity, KEY_BY_TYPE[type], user, clientId) ?? null;
      this.resolved.set(cacheKey, found);
    }
    return found ?? undefined;
  }

  /**
   * Records `value` (bytes, or for 'request' the percentage of a second the request took)
   * and returns the throttle time in ms, 0 when within quota or unlimited.
   */
  recordAndGetThrottleTimeMs(type: ClientQuotaType, principal: string, clientId: string, value: number, nowMs: number): number {
    const quota = this.quota(type, principal, clientId);
    if (quota === undefined) return 0;
    const rateKey = `${type}\0${quota.userTag}\0${quota.clientTag}`;
    let tracked = this.rates.get(rateKey);
    if (tracked === undefined) {
      tracked = { rate: new TokenBucket(this.window), lastUsedMs: nowMs };
      this.rates.set(rateKey, tracked);
    }
    tracked.lastUsedMs = nowMs;
    this.sweep(nowMs);
    const throttleMs = tracked.rate.recordAndGetThrottleTimeMs(value, quota.value, nowMs);
    return type === 'request' ? Math.min(throttleMs, this.requestThrottleMaxMs) : throttleMs;
  }

  /** Rates being tracked (tests, metrics). */
  get trackedRates(): number {
    return this.rates.size;
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < EXPIRY_SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = nowMs;
    for (const [key, tracked] of this.rates) if (nowMs - tracked.lastUsedMs > INACTIVE_RATE_EXPIRY_MS) this.rates.delete(key);
  }
}
