/**
 * Connection creation rate limits (Kafka's ConnectionQuotas, KIP-612), checked when a
 * connection is accepted, before `max.connections` and `max.connections.per.ip`:
 *
 * - Per IP: the `connection_creation_rate` quota of the `ip` entity (that IP's own, else
 *   the default `ip` entity), set with AlterClientQuotas. A connection over it is closed
 *   after the throttle time without being served, as Kafka holds the throttled connection
 *   and then closes it, so a reconnecting client is slowed to the rate.
 * - Per listener and broker-wide: `listener.name.<l>.max.connection.creation.rate` and
 *   `max.connection.creation.rate` (the inter-broker listener is exempt from the broker-wide
 *   rate, as in Kafka). A connection over either is served, but only after the throttle
 *   time: Kafka's acceptor stops accepting for that long.
 *
 * Rates use the client quotas' token bucket over Kafka's quota windows (rate.ts).
 * Differences from Kafka: the listener and broker rates delay each excess connection
 * rather than pausing the whole acceptor (later connections queue behind it all the same,
 * as the bucket is already below zero).
 */
import type { ClientQuotaEntry } from './client-quota-entity.js';
import { QuotaEntityType, QuotaKey } from './client-quota-entity.js';
import type { RateWindow } from './rate.js';
import { DEFAULT_RATE_WINDOW, TokenBucket } from './rate.js';

/** Kafka's default for the creation rates: Int.MaxValue, i.e. unlimited. */
export const CONNECTION_RATE_UNLIMITED = 2147483647;

export interface ConnectionQuotaOptions {
  /** `max.connection.creation.rate`. */
  readonly brokerRate: number;
  /** `listener.name.<l>.max.connection.creation.rate` by listener name (upper case). */
  readonly listenerRates: ReadonlyMap<string, number>;
  /** The listener exempt from the broker-wide rate (inter.broker.listener.name). */
  readonly interBrokerListener?: string;
  /** Client quotas from the metadata store (for `ip` entities). */
  readonly entries: () => readonly ClientQuotaEntry[] | undefined;
  readonly window?: RateWindow;
}

export type ConnectionVerdict =
  | { readonly type: 'accept' }
  /** Serve it after this delay (listener or broker rate). */
  | { readonly type: 'delay'; readonly delayMs: number; readonly limit: string }
  /** Close it after this delay without serving it (per-IP rate). */
  | { readonly type: 'reject'; readonly delayMs: number };

/** IPs tracked at most: beyond this, buckets idle longest are dropped (an IP flood cannot grow the heap). */
const TRACKED_IPS_MAX = 10_000;

export class ConnectionQuotas {
  private readonly window: RateWindow;
  private readonly broker: TokenBucket;
  private readonly listeners = new Map<string, TokenBucket>();
  private readonly ips = new Map<string, TokenBucket>();
  private seenEntries: readonly ClientQuotaEntry[] | undefined;
  private ipQuotas = new Map<string, number>();
  private defaultIpQuota: number | undefined;

  constructor(private readonly options: ConnectionQuotaOptions) {
    this.window = options.window ?? DEFAULT_RATE_WINDOW;
    this.broker = new TokenBucket(this.window);
  }

  /** Records a new connection from `ip` on `listener` and says what to do with it. */
  onAccept(listener: string, ip: string, nowMs: number): ConnectionVerdict {
    const ipRate = this.ipRate(ip);
    if (ipRate !== undefined) {
      let bucket = this.ips.get(ip);
      if (bucket === undefined) {
        if (this.ips.size >= TRACKED_IPS_MAX) this.ips.delete(this.ips.keys().next().value!);
        bucket = new TokenBucket(this.window);
      } else {
        this.ips.delete(ip); // re-inserted below: the map stays in least-recently-used order
      }
      this.ips.set(ip, bucket);
      const throttleMs = ipRate <= 0 ? Number.POSITIVE_INFINITY : bucket.recordAndGetThrottleTimeMs(1, ipRate, nowMs);
      if (throttleMs > 0) return { type: 'reject', delayMs: Number.isFinite(throttleMs) ? throttleMs : this.window.sampleMs };
    }
    let delayMs = 0;
    let limit = '';
    const listenerRate = this.options.listenerRates.get(listener);
    if (listenerRate !== undefined && listenerRate < CONNECTION_RATE_UNLIMITED) {
      let bucket = this.listeners.get(listener);
      if (bucket === undefined) {
        bucket = new TokenBucket(this.window);
        this.listeners.set(listener, bucket);
      }
      delayMs = bucket.recordAndGetThrottleTimeMs(1, Math.max(listenerRate, 1e-9), nowMs);
      if (delayMs > 0) limit = `listener.name.${listener.toLowerCase()}.max.connection.creation.rate`;
    }
    if (this.options.brokerRate < CONNECTION_RATE_UNLIMITED && listener !== this.options.interBrokerListener) {
      const brokerDelayMs = this.broker.recordAndGetThrottleTimeMs(1, Math.max(this.options.brokerRate, 1e-9), nowMs);
      if (brokerDelayMs > delayMs) {
        delayMs = brokerDelayMs;
        limit = 'max.connection.creation.rate';
      }
    }
    return delayMs > 0 ? { type: 'delay', delayMs, limit } : { type: 'accept' };
  }

  /** The IP's connection_creation_rate: its own entity's, else the default ip entity's. */
  private ipRate(ip: string): number | undefined {
    const entries = this.options.entries();
    if (entries !== this.seenEntries) {
      this.seenEntries = entries;
      this.ipQuotas = new Map();
      this.defaultIpQuota = undefined;
      for (const entry of entries ?? []) {
        const value = entry.values[QuotaKey.CONNECTION_CREATION_RATE];
        const part = entry.entity[0];
        if (value === undefined || entry.entity.length !== 1 || part?.entityType !== QuotaEntityType.IP) continue;
        if (part.entityName === null) this.defaultIpQuota = value;
        else this.ipQuotas.set(part.entityName, value);
      }
    }
    return this.ipQuotas.get(ip) ?? this.defaultIpQuota;
  }
}

