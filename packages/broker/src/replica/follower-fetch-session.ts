/**
 * The follower's side of an incremental fetch session (KIP-227), as Kafka's
 * FetchSessionHandler used by its ReplicaFetcherThread: one per fetcher (one per leader).
 *
 * - The first request opens a session: epoch 0, every partition (a "full" request). The
 *   leader answers every partition and a session id.
 * - Later requests carry that id and the next epoch (1, 2, ... wrapping to 1 after
 *   2^31-1) and list only partitions added or whose fetch state changed since the session
 *   last heard of them (fetch offset, log start offset, max bytes, current leader epoch,
 *   last fetched epoch), plus the removed ones as forgotten_topics_data. The leader answers
 *   only partitions with something new (records, an error, a diverging epoch, a moved high
 *   watermark or log start offset).
 * - The session's partitions change when a request is built, its epoch when the response
 *   arrives: a failed request (connection lost, timeout, bad response) makes the next one
 *   full again with the old session id and epoch 0 (Kafka's nextCloseExisting: the leader
 *   drops the old session and opens a new one); FETCH_SESSION_ID_NOT_FOUND (the leader
 *   restarted or evicted the session) makes it a full request for a new session; a leader
 *   that answers session id 0 (no room in its cache) gets full requests until it has room.
 *
 * Pure state: no I/O, no clock (unit-tested in test/follower-fetch-session.test.ts).
 */
import { ErrorCode } from '@tributary/protocol';

/** Kafka's FetchMetadata: epoch 0 asks for a new session, -1 fetches without one. */
export const INITIAL_SESSION_EPOCH = 0;
/** Session id 0: no session. */
export const NO_SESSION_ID = 0;

/** One partition's fetch state as a request sends it. */
export interface FollowerFetchPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly logStartOffset: number;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
  readonly lastFetchedEpoch: number;
}

/** What the next Fetch request carries. */
export interface FollowerFetchRequestData {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  /** True for a full request (epoch 0): `toSend` is every partition, `toForget` empty. */
  readonly full: boolean;
  readonly toSend: readonly FollowerFetchPartition[];
  readonly toForget: readonly FollowerFetchPartition[];
}

function sameFetchState(a: FollowerFetchPartition, b: FollowerFetchPartition): boolean {
  // The fetcher reuses a partition's object while its state holds: usually the same object.
  return a === b || a.fetchOffset === b.fetchOffset && a.logStartOffset === b.logStartOffset && a.partitionMaxBytes === b.partitionMaxBytes
    && a.currentLeaderEpoch === b.currentLeaderEpoch && a.lastFetchedEpoch === b.lastFetchedEpoch;
}

export class FollowerFetchSession {
  private sessionId = NO_SESSION_ID;
  private epoch = INITIAL_SESSION_EPOCH;
  /** The partitions the leader's session holds once the last built request is processed, in its order. */
  private readonly partitions = new Map<string, FollowerFetchPartition>();

  /** The session id in use (0 before the leader has given one). */
  get id(): number {
    return this.sessionId;
  }

  /** The epoch the next request carries. */
  get nextEpoch(): number {
    return this.epoch;
  }

  /**
   * The next request for `next` (every partition to fetch now, keyed by topic and
   * partition). Without anything to send or forget the caller sends nothing, and nothing
   * here changed.
   *
   * `changed`, when given, lists every key whose presence in `next` or fetch state may
   * differ from what the session holds (the caller tracks it; after each build the session
   * holds exactly `next`): an incremental request then looks at those keys only, not at
   * every idle partition of the session (a follower's 50 __consumer_offsets partitions,
   * every round trip). A full request ignores it.
   */
  build(next: ReadonlyMap<string, FollowerFetchPartition>, changed?: Iterable<string>): FollowerFetchRequestData {
    if (this.epoch === INITIAL_SESSION_EPOCH) {
      this.partitions.clear();
      for (const [key, p] of next) this.partitions.set(key, p);
      return { sessionId: this.sessionId, sessionEpoch: INITIAL_SESSION_EPOCH, full: true, toSend: [...next.values()], toForget: [] };
    }
    if (changed !== undefined) return this.buildChanged(next, changed);
    const toSend: FollowerFetchPartition[] = [];
    const toForget: FollowerFetchPartition[] = [];
    for (const [key, before] of this.partitions) {
      const now = next.get(key);
      if (now === undefined) {
        this.partitions.delete(key);
        toForget.push(before);
      } else if (!sameFetchState(before, now)) {
        this.partitions.set(key, now);
        toSend.push(now);
      }
    }
    if (next.size > this.partitions.size) {
      for (const [key, now] of next) {
        if (this.partitions.has(key)) continue;
        this.partitions.set(key, now);
        toSend.push(now);
      }
    }
    return { sessionId: this.sessionId, sessionEpoch: this.epoch, full: false, toSend, toForget };
  }

  /** An incremental request looking only at the `changed` keys (see build); the same answer as a full scan. */
  private buildChanged(next: ReadonlyMap<string, FollowerFetchPartition>, changed: Iterable<string>): FollowerFetchRequestData {
    const toSend: FollowerFetchPartition[] = [];
    const toForget: FollowerFetchPartition[] = [];
    const added: [string, FollowerFetchPartition][] = [];
    for (const key of changed) {
      const before = this.partitions.get(key);
      const now = next.get(key);
      if (before === undefined) {
        // New to the session: added after the altered ones, as the full scan orders them.
        if (now !== undefined && !added.some(([k]) => k === key)) added.push([key, now]);
      } else if (now === undefined) {
        this.partitions.delete(key);
        toForget.push(before);
      } else if (!sameFetchState(before, now)) {
        this.partitions.set(key, now);
        toSend.push(now);
      }
    }
    for (const [key, now] of added) {
      this.partitions.set(key, now);
      toSend.push(now);
    }
    return { sessionId: this.sessionId, sessionEpoch: this.epoch, full: false, toSend, toForget };
  }

  /**
   * Takes the response to the last built request. `unexpected` says its partitions were not
   * the ones the session holds (one the session does not hold, or a full answer missing
   * one). Returns whether the response's partitions may be used.
   */
  handleResponse(errorCode: number, responseSessionId: number, unexpected: boolean): boolean {
    const full = this.epoch === INITIAL_SESSION_EPOCH;
    if (errorCode !== ErrorCode.NONE) {
      if (errorCode === ErrorCode.FETCH_SESSION_ID_NOT_FOUND) this.reset();
      else this.closeExisting();
      return false;
    }
    if (full) {
      if (responseSessionId === NO_SESSION_ID) {
        // The leader keeps no session for us (its cache is full): the partitions are still good.
        this.reset();
        return true;
      }
      if (unexpected) {
        this.reset();
        return false;
      }
      this.sessionId = responseSessionId;
      this.epoch = 1;
      return true;
    }
    if (unexpected) {
      this.closeExisting();
      return false;
    }
    if (responseSessionId === NO_SESSION_ID) {
      this.reset();
      return true;
    }
    this.epoch = this.epoch === 0x7fffffff ? 1 : this.epoch + 1;
    return true;
  }

  /** The request failed (connection lost, timeout, undecodable answer): the next one is full. */
  handleError(): void {
    this.closeExisting();
  }

  /** Whether `key` is in the session (a response partition outside it is unexpected). */
  has(key: string): boolean {
    return this.partitions.has(key);
  }

  /** How many partitions the session holds. */
  get size(): number {
    return this.partitions.size;
  }

  /** Kafka's FetchMetadata.INITIAL: a full request for a new session. */
  private reset(): void {
    this.sessionId = NO_SESSION_ID;
    this.epoch = INITIAL_SESSION_EPOCH;
  }

  /** Kafka's nextCloseExisting: a full request that also tells the leader to drop the old session. */
  private closeExisting(): void {
    this.epoch = INITIAL_SESSION_EPOCH;
  }
}
