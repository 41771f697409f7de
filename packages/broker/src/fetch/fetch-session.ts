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
 * The cache is bounded by `max.incremental.fetch.session.cache.slots` (Kafka: 1000); when
 * full, the least recently used session is evicted (Kafka prefers evicting smaller
 * sessions; with one broker and few clients the difference is not observable).
 */

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
  /** Insertion-ordered, keyed by `${topicId or name}:${partition}`. */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(id: number, nowMs: number) {
    this.id = id;
    this.lastUsedMs = nowMs;
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

  create(nowMs: number): FetchSession | undefined {
    if (this.maxSessions <= 0) return undefined;
    if (this.sessions.size >= this.maxSessions) {
      let oldest: FetchSession | undefined;
      for (const s of this.sessions.values()) if (oldest === undefined || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
      if (oldest) this.sessions.delete(oldest.id);
    }
    let id = this.nextId;
    while (id === 0 || this.sessions.has(id)) id = (id % 0x7fffffff) + 1;
    this.nextId = (id % 0x7fffffff) + 1;
    const session = new FetchSession(id, nowMs);
    this.sessions.set(id, session);
    return session;
  }

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }
}
