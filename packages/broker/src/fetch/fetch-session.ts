/**
 * Incremental fetch sessions (KIP-227), as Kafka's FetchSessionCache.
 *
 * A client that sends sessionId 0 / epoch 0 asks for a new session: the broker remembers
 * the partitions it fetched and gives it a session id. Later requests (epoch 1, 2, ...)
 * list only partitions whose fetch position changed, plus forgotten ones; the broker
 * answers only partitions that have something new (records, an error, or a changed high
 * watermark / log start offset). Epoch -1 closes a session and makes the fetch sessionless.
 *
 * Errors a client can see: FETCH_SESSION_ID_NOT_FOUND (70) when the id is unknown (or was
 * evicted), INVALID_FETCH_SESSION_EPOCH (71) when the epoch is not the expected next one.
 *
 * The cache is bounded by `max.incremental.fetch.session.cache.slots` (Kafka: 1000). When
 * it is full, a new session takes the place of another as Kafka's FetchSessionCache.tryEvict
 * decides (one shard): the least recently used session if unused for EVICTION_MS; else the
 * least valuable evictable session if the new one is worth more, where followers' sessions
 * (privileged) outrank consumers' and a larger session outranks a smaller one. A consumer's
 * session can evict only sessions older than EVICTION_MS, a follower's any consumer's: so
 * many consumers opening sessions never push a follower back to full fetches.
 */

/**
 * Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session unused this long may be
 * evicted by any new one, and a session younger than this only by a privileged one.
 */
export const EVICTION_MS = 120_000;

export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

/** The fetch position of one partition in a session, and what was last sent for it. */
export interface SessionPartition {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  /** Fetch v12+: epoch of the last batch the fetcher holds, -1 when not sent (see divergingEpoch). */
  lastFetchedEpoch?: number;
  /** What the last response told the client; -1 before the first response. */
  lastHighWatermark: number;
  lastLogStartOffset: number;
}

export class FetchSession {
  readonly id: number;
  /** The epoch the next request must carry. */
  epoch = 1;
  lastUsedMs: number;
  readonly createdMs: number;
  /** A follower's session (Kafka: privileged), kept in preference to consumers'. */
  readonly privileged: boolean;
  /** Insertion-ordered, keyed by `${topicId or name}:${partition}`. */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(id: number, nowMs: number, privileged = false) {
    this.id = id;
    this.lastUsedMs = nowMs;
    this.createdMs = nowMs;
    this.privileged = privileged;
  }
}

export function sessionKey(topicKey: string, partition: number): string {
  return `${topicKey}:${partition}`;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private nextId = 1 + Math.floor(Math.random() * 0x3fffffff);

  constructor(private readonly maxSessions: number) {}

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Opens a session for a fetcher with `size` partitions (`privileged`: a follower), or
   * returns undefined when the cache is full of sessions worth more (the fetch then goes
   * on without one, answered session id 0).
   */
  create(nowMs: number, privileged = false, size = 0): FetchSession | undefined {
    if (this.maxSessions <= 0) return undefined;
    if (this.sessions.size >= this.maxSessions && !this.tryEvict(nowMs, privileged, size)) return undefined;
    let id = this.nextId;
    while (id === 0 || this.sessions.has(id)) id = (id % 0x7fffffff) + 1;
    this.nextId = (id % 0x7fffffff) + 1;
    const session = new FetchSession(id, nowMs, privileged);
    this.sessions.set(id, session);
    return session;
  }

  /**
   * Kafka's tryEvict: a stale session goes first; else the least valuable session the new
   * one may evict (ordered by privileged, then size, then id, as Kafka's EvictableKey),
   * if the new one is worth at least as much.
   */
  private tryEvict(nowMs: number, privileged: boolean, size: number): boolean {
    let leastRecent: FetchSession | undefined;
    for (const s of this.sessions.values()) if (leastRecent === undefined || s.lastUsedMs < leastRecent.lastUsedMs) leastRecent = s;
    if (leastRecent === undefined) return false;
    if (nowMs - leastRecent.lastUsedMs > EVICTION_MS) {
      this.sessions.delete(leastRecent.id);
      return true;
    }
    let victim: FetchSession | undefined;
    for (const s of this.sessions.values()) {
      const old = nowMs - s.createdMs > EVICTION_MS;
      // Kafka's evictableByPrivileged holds consumers' sessions and old ones; evictableByAll only old ones.
      if (!(privileged ? !s.privileged || old : old)) continue;
      if (victim === undefined || compareEvictable(s, victim) < 0) victim = s;
    }
    if (victim === undefined) return false;
    // The new session's key has id 0, below any real id: equal privilege and size is not enough.
    const worth = Number(privileged) - Number(victim.privileged) || size - victim.partitions.size || -1;
    if (worth < 0) return false;
    this.sessions.delete(victim.id);
    return true;
  }

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }
}

/** Kafka's EvictableKey order: consumers' before followers', then smaller, then lower id. */
function compareEvictable(a: FetchSession, b: FetchSession): number {
  return Number(a.privileged) - Number(b.privileged) || a.partitions.size - b.partitions.size || a.id - b.id;
}
