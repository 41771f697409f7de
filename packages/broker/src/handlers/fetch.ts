/**
 * Fetch (api key 1), versions 0-17.
 *
 * Behaviour (Kafka's KafkaApis.handleFetchRequest + ReplicaManager.fetchMessages):
 * - Reads whole record batches from each requested partition starting at the batch that
 *   contains the fetch offset, up to the partition's `partitionMaxBytes` and the smaller
 *   of the request's `maxBytes` and the broker's `fetch.max.bytes` (so `minBytes` is capped
 *   by that too); the first batch of the first non-empty partition is returned whole even
 *   when larger (KIP-74), so a consumer can always make progress.
 * - A partition named twice is fetched once (Kafka keys the request by topic-partition,
 *   topic id from v13, in a LinkedHashMap: the first mention's place, the last one's
 *   offset and limits).
 * - Memory: the record bytes are reserved from the connection's response budget before
 *   reading (network/memory-budget.ts) and the read is limited to what was granted;
 *   Kafka sends them from the file and needs no such budget. With none granted the Fetch
 *   reads nothing and waits as if no data were there.
 * - Consumers read up to the high watermark; read_committed consumers up to the last
 *   stable offset, with the aborted transactions overlapping what they get
 *   (fetch/isolation.ts).
 * - Long poll: when fewer than `minBytes` are available and no partition has an error,
 *   the request waits up to `maxWaitMs` for new data on any of its partitions.
 * - Incremental fetch sessions (v7+, KIP-227): see fetch/fetch-session.ts. Kafka reads
 *   every partition of the session on each incremental request; for a follower's session,
 *   a partition with nothing new since its last answer (the follower at the log end, the
 *   high watermark and log start offset as answered, the same leader epoch) is not read
 *   again: the answer is the same (it is left out) and the follower's fetch is still
 *   recorded (quietRead).
 * - v13+ identifies topics by id (UNKNOWN_TOPIC_ID for an unknown id).
 * - v17 (KIP-853) adds the follower's ReplicaDirectoryId per partition, a tagged field
 *   consumers never send; it is decoded and ignored (followers here do not send it), as its value
 *   only matters to a KRaft voter.
 * - currentLeaderEpoch (v9+): older than the partition's -> FENCED_LEADER_EPOCH, newer ->
 *   UNKNOWN_LEADER_EPOCH; checked before leadership, as Kafka does, when this broker holds a
 *   replica (replica/leader-epochs.ts).
 * - lastFetchedEpoch (v12+): when the leader's epoch cache shows the fetcher's log diverges,
 *   the partition answers `divergingEpoch` {epoch, endOffset} and no records, at once (no
 *   long poll); an epoch the leader cannot place answers OFFSET_OUT_OF_RANGE.
 * - v16+: NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH carry currentLeader and the
 *   leader's endpoint (fetch-current-leader.ts, KIP-951).
 * - Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (with the high
 *   watermark and log start offset, so the client can reset), NOT_LEADER_OR_FOLLOWER.
 * - Below v10 (before zstd existed), a partition whose topic has compression.type=zstd
 *   answers UNSUPPORTED_COMPRESSION_TYPE with no data, as Kafka does; Kafka decides by the
 *   topic config, not by the batches (zstd batches of a `producer` topic are served).
 *   As in Kafka (maybeConvertFetchedData), the check is made after the read, so such a
 *   request may first wait maxWaitMs (fetch-legacy.ts).
 *
 * Versions 0-3 read message formats v0/v1: their answers are down-converted, and versions
 * below 10 get UNSUPPORTED_COMPRESSION_TYPE for zstd topics (fetch-legacy.ts). Kafka 4 no
 * longer serves versions 0-3 (KIP-896); Tributary keeps serving them for old clients.
 * Fetches from replicas (replica_id >= 0, or ReplicaState.replica_id from v15): read up to
 * the log end offset, not the high watermark, and first update that follower's fetch state
 * in the leader's Partition (its log end offset and caught-up time: the ISR and the high
 * watermark follow from them), as Kafka's ReplicaManager.fetchMessages does for followers.
 * - Authorization (with an authorizer, Kafka's handleFetchRequest): a follower fetch needs
 *   CLUSTER_ACTION on the cluster, else every partition is TOPIC_AUTHORIZATION_FAILED; a
 *   consumer needs READ on each topic, else TOPIC_AUTHORIZATION_FAILED, checked before
 *   existence (an unknown topic id stays UNKNOWN_TOPIC_ID: ids are not secret).
 */
import {
  ApiKey,
  ErrorCode,
  ZERO_UUID,
  type FetchRequest,
  type FetchResponse,
  type FetchResponseFetchableTopicResponse,
  type FetchResponsePartitionData,
} from '@tributary/protocol';
import { ChunkHolds, StorageError, assembleRecords, isRecentAppendsBuffer, type Log } from '@tributary/storage';
import type { Handler, RequestContext } from './registry.js';
import type { TopicMetadata } from '../metadata/metadata-store.js';
import { FIRST_ZSTD_FETCH_VERSION, convertForOldFetcher } from './fetch-legacy.js';
import { LARGE_READ_BYTES, largeReadDone, largeReadTurn } from '../network/memory-budget.js';
import { attachCurrentLeaders } from './fetch-current-leader.js';
import { checkCurrentLeaderEpoch, divergingEpoch, notLeaderError } from '../replica/leader-epochs.js';
import { FINAL_EPOCH, INITIAL_EPOCH, sessionKey, type FetchSession, type SessionPartition } from '../fetch/fetch-session.js';
import { followerFetched } from '../replica/follower-fetch.js';
import type { Partition } from '../replica/partition.js';
import { authorized, authorizedOnCluster } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

import { READ_COMMITTED, abortedTransactionsFor, fetchUpperBound } from '../fetch/isolation.js';
/**
 * Kafka answers an empty record set (length 0), never null, also with an error: librdkafka
 * treats a null record set as a response to retry and would fetch the same offset forever
 * instead of acting on the error (e.g. resetting after OFFSET_OUT_OF_RANGE).
 */
const NO_RECORDS = Buffer.alloc(0);

interface Target {
  part: SessionPartition;
  topic: TopicMetadata | undefined;
  /** Set when the topic could not be resolved. */
  resolveError: number;
}

interface PartitionRead {
  target: Target;
  data: FetchResponsePartitionData;
  log: Log | undefined;
  /** The leader's replica read (set when the read reached the partition). */
  partition?: Partition;
  /** The log end offset and leader epoch the read saw (set with `partition`). */
  logEndOffsetAtRead?: number;
  leaderEpochAtRead?: number;
  /** Not read: a follower's session partition with nothing new since its last answer (quietRead). */
  quiet?: boolean;
  /**
   * A consumer's read from a segment file that stopped at its byte limit with more records
   * there: the offset its next Fetch will ask for, read ahead once this response is written.
   */
  readAheadOffset?: number;
}

/**
 * A follower's session partition last answered with nothing new while the follower was at
 * the leader's log end, and by which replica: until the leader's log end, high watermark or
 * log start offset moves (or its leadership changes, or the follower names the partition
 * again), a read would answer the same, so incremental fetches do not read it (quietRead).
 */
interface QuietMark {
  readonly partition: Partition;
  readonly leaderEpoch: number;
}

/** Keyed by the session's own partition entries, so they go with the session. */
const quietMarks = new WeakMap<SessionPartition, QuietMark>();

export const fetchHandler: Handler<'Fetch'> = {
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 17,

  async handle(req, ctx) {
    const { fetchSessions } = ctx.broker;
    const version = ctx.header.apiVersion;
    const nowMs = Date.now();
    const byId = version >= 13;
    const sessionId = version >= 7 ? req.sessionId ?? 0 : 0;
    const sessionEpoch = version >= 7 ? req.sessionEpoch ?? FINAL_EPOCH : FINAL_EPOCH;

    const fetcherId = version >= 15 ? req.replicaState?.replicaId ?? -1 : req.replicaId ?? -1;
    if (fetcherId >= 0 && ctx.broker.authorizer && !authorizedOnCluster(ctx, AclOperation.CLUSTER_ACTION)) {
      return everyPartition(req, byId, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    }
    // Only an authorizer consults it (readAuthorized): a weak-set entry per follower fetch
    // is otherwise work for nothing, for the mutator and the garbage collector.
    if (fetcherId >= 0 && ctx.broker.authorizer) followerRequests.add(ctx);
    let session: FetchSession | undefined;
    let incremental = false;
    let targets: Target[];
    if (sessionEpoch === FINAL_EPOCH || sessionEpoch === INITIAL_EPOCH) {
      if (sessionId !== 0) fetchSessions.remove(sessionId);
      targets = requestTargets(req, ctx, byId);
      // A follower's session is privileged in the cache (fetch/fetch-session.ts), as in Kafka.
      if (sessionEpoch === INITIAL_EPOCH && version >= 7) session = fetchSessions.create(nowMs, fetcherId >= 0, targets.length);
      if (session) for (const t of targets) session.partitions.set(keyOf(t.part, byId), t.part);
    } else {
      session = fetchSessions.get(sessionId);
      if (session === undefined) return topLevelError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0);
      if (session.epoch !== sessionEpoch) return topLevelError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0);
      incremental = true;
      for (const t of requestTargets(req, ctx, byId)) {
        const key = keyOf(t.part, byId);
        const existing = session.partitions.get(key);
        if (existing) {
          // Named again: its position or epochs may have changed, so it is read.
          quietMarks.delete(existing);
          existing.fetchOffset = t.part.fetchOffset;
          existing.partitionMaxBytes = t.part.partitionMaxBytes;
          existing.currentLeaderEpoch = t.part.currentLeaderEpoch;
          existing.lastFetchedEpoch = t.part.lastFetchedEpoch ?? -1;
        } else {
          session.partitions.set(key, t.part);
        }
      }
      for (const forgotten of req.forgottenTopicsData ?? []) {
        const topicKey = byId ? forgotten.topicId ?? ZERO_UUID : forgotten.topic ?? '';
        for (const p of forgotten.partitions) session.partitions.delete(sessionKey(topicKey, p));
      }
      targets = [...session.partitions.values()].map((part) => resolve(part, ctx, byId));
    }
    if (session) {
      // A new session expects epoch 1 next (set when it is created); each incremental
      // request then moves the expectation one further, wrapping like Kafka's nextEpoch.
      if (incremental) session.epoch = session.epoch === 0x7fffffff ? 1 : session.epoch + 1;
      session.lastUsedMs = nowMs;
    }

    const isolation = req.isolationLevel ?? 0;
    const maxBytes = fetchMaxBytes(req, version, ctx);
    const minBytes = Math.min(req.minBytes, maxBytes);
    // Monotonic, as Kafka's DelayedFetch: a wall-clock step back must not stretch a woken poll.
    const deadline = performance.now() + Math.max(0, req.maxWaitMs);
    // Records served from the leader's recent appends are slices of chunks that are reused
    // once released (storage recent-appends.ts): held until this response has been written
    // (or dropped unsent), never released before. Without the hook they are never reused.
    const held: Held = { bytes: 0, chunks: ctx.onResponseWritten !== undefined ? new ChunkHolds() : undefined };
    const replicaId = version >= 15 ? req.replicaState?.replicaId ?? -1 : req.replicaId ?? -1;
    let reads = await readReserved(targets, ctx, maxBytes, isolation, replicaId, held);
    while (true) {
      const anyError = reads.some((r) => r.data.errorCode !== ErrorCode.NONE || r.data.divergingEpoch !== undefined);
      const waitMs = deadline - performance.now();
      if (held.bytes >= minBytes || anyError || waitMs <= 0 || reads.length === 0) break;
      // Every read without an error reached its partition (readOne, quietRead).
      const partitions: Partition[] = [];
      for (const r of reads) if (r.partition !== undefined) partitions.push(r.partition);
      if (partitions.length === 0) break;
      // A follower reads to the log end: only new data (not a high watermark move) gives it more.
      await ctx.broker.replicaManager.waitForData(partitions, waitMs, replicaId >= 0);
      if (ctx.broker.closing) break;
      reads = await readReserved(targets, ctx, maxBytes, isolation, replicaId, held);
    }

    const responses: FetchResponseFetchableTopicResponse[] = [];
    for (const r of reads) {
      const part = r.target.part;
      // Not read, so nothing new to answer (quietRead); its mark stays.
      if (r.quiet) continue;
      if (session && replicaId >= 0) markQuiet(r, replicaId);
      if (incremental) {
        const changed =
          (r.data.records !== null && r.data.records.length > 0) ||
          r.data.errorCode !== ErrorCode.NONE ||
          r.data.divergingEpoch !== undefined ||
          r.data.highWatermark !== part.lastHighWatermark ||
          r.data.logStartOffset !== part.lastLogStartOffset;
        if (!changed) continue;
      }
      part.lastHighWatermark = r.data.highWatermark;
      part.lastLogStartOffset = r.data.logStartOffset ?? -1;
      // Kafka moves a partition that returned records to the session's end, so the next
      // fetch reads the others first (only the first may exceed its limit, KIP-74).
      if (incremental && session && (r.data.records?.length ?? 0) > 0) {
        const key = keyOf(part, byId);
        if (session.partitions.delete(key)) session.partitions.set(key, part);
      }
      const last = responses[responses.length - 1];
      const sameTopic = last !== undefined && (byId ? last.topicId === part.topicId : last.topic === part.topic);
      if (sameTopic) last.partitions.push(r.data);
      else responses.push(byId ? { topicId: part.topicId, partitions: [r.data] } : { topic: part.topic, partitions: [r.data] });
    }
    const response: FetchResponse = { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: session?.id ?? 0, responses };
    const chunks = held.chunks;
    if (chunks !== undefined && chunks.size > 0) ctx.onResponseWritten!(() => chunks.release());
    if (ctx.onResponseWritten !== undefined) readAheadOnceWritten(reads, ctx);
    attachCurrentLeaders(response, version, ctx, byId);
    if (version < FIRST_ZSTD_FETCH_VERSION) return convertForOldFetcher(req, response, version, ctx);
    return response;
  },

  errorResponse(_req, errorCode) {
    return topLevelError(errorCode, 0);
  },
};

/**
 * A consumer sends its next Fetch only once it has received and parsed the whole response
 * (librdkafka keeps one Fetch in flight per broker), and the broker reads that Fetch's
 * records from the segment files only when it arrives, while the consumer waits. So the
 * records a consumer reading a backlog will ask for next (from where this read stopped, up
 * to its partition limit) are read once this response has been written, while the
 * consumer is still busy with it, and that read takes them from memory (Log.readAhead;
 * at most storage's READ_AHEAD_MAX_BYTES held across the broker). The bytes sent are the
 * same either way. SSL consume with librdkafka, 6 partitions of 1 MiB per Fetch: the
 * reads took 1.4 ms (median; 2.1 mean) of each ~11 ms Fetch round trip.
 */
function readAheadOnceWritten(reads: readonly PartitionRead[], ctx: RequestContext): void {
  let ahead: PartitionRead[] | undefined;
  for (const r of reads) if (r.readAheadOffset !== undefined && r.log !== undefined && r.data.errorCode === ErrorCode.NONE) (ahead ??= []).push(r);
  if (ahead === undefined) return;
  const list = ahead;
  // Only after a response that reached the kernel: one dropped with its connection (a client
  // that went away, or never read) will not be followed by another Fetch.
  ctx.onResponseWritten!((sent) => {
    if (!sent) return;
    for (const r of list) r.log!.readAhead(r.readAheadOffset!, r.target.part.partitionMaxBytes);
  });
}

/** Every requested partition with `errorCode` (a follower without CLUSTER_ACTION). */
function everyPartition(req: FetchRequest, byId: boolean, errorCode: number): FetchResponse {
  return {
    throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0,
    responses: req.topics.map((t) => ({
      ...(byId ? { topicId: t.topicId ?? ZERO_UUID } : { topic: t.topic ?? '' }),
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
        abortedTransactions: null, preferredReadReplica: -1, records: NO_RECORDS,
      })),
    })),
  };
}

function topLevelError(errorCode: number, sessionId: number): FetchResponse {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [] };
}

function keyOf(part: SessionPartition, byId: boolean): string {
  return sessionKey(byId ? part.topicId : part.topic, part.partition);
}

/** min(request max_bytes, broker fetch.max.bytes), as Kafka's handleFetchRequest. */
function fetchMaxBytes(req: FetchRequest, version: number, ctx: RequestContext): number {
  const requested = version >= 3 ? req.maxBytes ?? 0x7fffffff : 0x7fffffff;
  return Math.max(0, Math.min(requested, ctx.broker.config.number('fetch.max.bytes')));
}

/** What a Fetch's current read holds: response-budget bytes, and recent-appends chunks (ChunkHolds). */
interface Held {
  bytes: number;
  readonly chunks: ChunkHolds | undefined;
}

/**
 * readAll within the connection's response budget: reserves before reading, reads at most
 * the grant, keeps (in `held`) what the records hold and gives back the rest. A re-read
 * (after a long-poll wake-up) first gives back what the previous read held (its records are
 * dropped unsent, so its chunk holds go too). A read that
 * may be large first waits for a turn without one (largeReadTurn).
 */
async function readReserved(targets: readonly Target[], ctx: RequestContext, maxBytes: number, isolation: number, replicaId: number, held: Held): Promise<PartitionRead[]> {
  held.chunks?.release();
  const memory = ctx.connection.responseMemory;
  if (memory === undefined) {
    const reads = readAll(targets, ctx, maxBytes, isolation, replicaId, true, held.chunks);
    held.bytes = recordBytes(reads);
    return reads;
  }
  memory.release(held.bytes);
  held.bytes = 0;
  let wanted = 0;
  for (const t of targets) wanted = Math.min(maxBytes, wanted + Math.max(0, t.part.partitionMaxBytes));
  if (wanted > LARGE_READ_BYTES) await largeReadTurn();
  const granted = memory.reserve(wanted);
  // No budget left: read nothing (not even the one batch KIP-74 allows), so the errors and
  // watermarks are still answered and the Fetch waits as if no data were there. A Fetch
  // that asked for 0 bytes gets its one batch, as in Kafka.
  const reads = readAll(targets, ctx, granted, isolation, replicaId, granted > 0 || (wanted === 0 && memory.hasRoom), held.chunks);
  for (const r of reads) r.data.records = rightSized(r.data.records);
  const bytes = recordBytes(reads);
  if (bytes > LARGE_READ_BYTES) largeReadDone();
  if (bytes > granted) memory.reserveAnyway(bytes - granted);
  else memory.release(granted - bytes);
  held.bytes = bytes;
  return reads;
}

/**
 * A segment read takes one chunk and may use only part of it (it stops at the high
 * watermark or before a batch that does not fit), and the budget counts record bytes: a
 * slice keeping a buffer more than twice its size (and this much larger) alive is copied
 * out. Up to one batch of slack is normal and not worth a copy. A slice of the leader's
 * recent appends is not copied: that chunk is counted by the recent-appends budget while
 * cached and is at most RECENT_APPENDS_CHUNK_BYTES_MAX (storage recent-appends.ts), and
 * copying it was the very cost those chunks exist to avoid.
 */
const SLICE_SLACK_BYTES = 64 * 1024;

function rightSized(records: Buffer | null): Buffer | null {
  if (records === null || records.buffer.byteLength - records.length <= Math.max(SLICE_SLACK_BYTES, records.length)) return records;
  if (isRecentAppendsBuffer(records)) return records;
  return Buffer.from(records);
}

function recordBytes(reads: readonly PartitionRead[]): number {
  let n = 0;
  for (const r of reads) n += r.data.records?.length ?? 0;
  return n;
}

/** The request's partitions, each once: a LinkedHashMap put keeps the first place and the last value. */
function requestTargets(req: FetchRequest, ctx: RequestContext, byId: boolean): Target[] {
  const byKey = new Map<string, Target>();
  for (const target of requestTargetList(req, ctx, byId)) byKey.set(keyOf(target.part, byId), target);
  return [...byKey.values()];
}

function requestTargetList(req: FetchRequest, ctx: RequestContext, byId: boolean): Target[] {
  const out: Target[] = [];
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const part: SessionPartition = {
        topic: t.topic ?? '',
        topicId: t.topicId ?? ZERO_UUID,
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        partitionMaxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
        lastHighWatermark: -1,
        lastLogStartOffset: -1,
      };
      out.push(resolve(part, ctx, byId));
    }
  }
  return out;
}

function resolve(part: SessionPartition, ctx: RequestContext, byId: boolean): Target {
  const metadata = ctx.broker.metadata;
  if (byId) {
    const topic = metadata.topicById(part.topicId);
    if (topic && !readAuthorized(ctx, topic.name)) return { part, topic: undefined, resolveError: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
    return { part, topic, resolveError: topic ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_ID };
  }
  if (!readAuthorized(ctx, part.topic)) return { part, topic: undefined, resolveError: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
  const topic = metadata.topic(part.topic);
  return { part, topic, resolveError: topic ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
}

/** Consumers need READ on the topic; followers were checked for CLUSTER_ACTION up front. */
function readAuthorized(ctx: RequestContext, topic: string): boolean {
  return !ctx.broker.authorizer || ctx.broker.authorizer.isSuperUser(ctx.principal)
    || followerRequests.has(ctx) || authorized(ctx, AclOperation.READ, ResourceType.TOPIC, topic);
}

/** Requests of followers that passed the CLUSTER_ACTION check (they read any topic). */
const followerRequests = new WeakSet<RequestContext>();

function readAll(targets: readonly Target[], ctx: RequestContext, maxBytes: number, isolation: number, replicaId: number, minOneBatchFirst: boolean, holds: ChunkHolds | undefined): PartitionRead[] {
  let remaining = maxBytes;
  let minOneBatch = minOneBatchFirst;
  const out: PartitionRead[] = [];
  // A follower's fetch time, once per read of the whole request (Kafka's fetchTimeMs): a
  // follower session lists every partition the leader leads, most of them idle.
  const nowMs = Date.now();
  for (const target of targets) {
    const quiet = replicaId >= 0 ? quietRead(target, replicaId, nowMs) : undefined;
    if (quiet !== undefined) {
      out.push(quiet);
      continue;
    }
    const r = readOne(target, ctx, remaining, minOneBatch, isolation, replicaId, holds, nowMs);
    const size = r.data.records?.length ?? 0;
    if (size > 0) {
      minOneBatch = false;
      remaining = Math.max(0, remaining - size);
    }
    out.push(r);
  }
  return out;
}

function readOne(target: Target, ctx: RequestContext, remaining: number, minOneBatch: boolean, isolation: number, replicaId: number, holds: ChunkHolds | undefined, nowMs: number): PartitionRead {
  const { part } = target;
  const data: FetchResponsePartitionData = {
    partitionIndex: part.partition,
    errorCode: ErrorCode.NONE,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: isolation === READ_COMMITTED ? [] : null,
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
  if (target.topic === undefined) {
    data.errorCode = target.resolveError;
    return { target, data, log: undefined };
  }
  const view = ctx.broker.replicaManager.partitionOf(target.topic, part.partition);
  if ('errorCode' in view) {
    const state = target.topic.partitions[part.partition];
    data.errorCode = view.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER && state !== undefined ? notLeaderError(part.currentLeaderEpoch, state, ctx.broker.nodeId) : view.errorCode;
    return { target, data, log: undefined };
  }
  const { log, state } = view;
  const fromReplica = replicaId >= 0;
  const diverging = divergingEpoch(log, state.leaderEpoch, part.lastFetchedEpoch ?? -1, part.fetchOffset);
  // A diverging follower's fetch offset is not its log end offset in the leader's log (it is
  // about to truncate below it), so, as Kafka's Partition.fetchRecords, it is not recorded:
  // it would otherwise count towards the ISR and the high watermark.
  if (fromReplica && diverging === null && (part.currentLeaderEpoch < 0 || part.currentLeaderEpoch === state.leaderEpoch)) {
    followerFetched(view.partition, replicaId, part.fetchOffset, nowMs);
  }
  data.highWatermark = log.highWatermark;
  data.lastStableOffset = log.lastStableOffset;
  data.logStartOffset = log.logStartOffset;
  const fenced = checkCurrentLeaderEpoch(part.currentLeaderEpoch, state);
  if (fenced !== ErrorCode.NONE) {
    data.errorCode = fenced;
    return { target, data, log };
  }
  if (diverging === 'out_of_range') {
    data.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
    return { target, data, log };
  }
  if (diverging !== null) {
    data.divergingEpoch = { epoch: diverging.epoch, endOffset: diverging.endOffset };
    return { target, data, log };
  }
  const limit = Math.min(part.partitionMaxBytes, remaining);
  const maxOffset = fetchUpperBound(log, fromReplica, isolation);
  const logEndOffset = log.logEndOffset;
  let read: ReturnType<Log['read']>;
  try {
    read = holds === undefined ? log.read(part.fetchOffset, limit, { maxOffset, minOneBatch }) : log.read(part.fetchOffset, limit, { maxOffset, minOneBatch, holds });
    if (read.kind === 'ok' && isolation === READ_COMMITTED && !fromReplica) data.abortedTransactions = abortedTransactionsFor(log, part.fetchOffset, read.nextFetchOffset);
  } catch (err) {
    // A read error has taken the log directory offline (storage logs it once); like Kafka,
    // this partition answers KAFKA_STORAGE_ERROR and the rest of the fetch goes on.
    if (!(err instanceof StorageError)) throw err;
    data.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
    return { target, data, log: undefined };
  }
  if (read.kind === 'offset_out_of_range') {
    data.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
    return { target, data, log };
  }
  const records = read.records;
  // Several pieces: segment reads across segments, or recent appends across chunks (then
  // assembled in a pooled chunk held like the others, not a fresh allocation).
  data.records = records.length === 0 ? NO_RECORDS : records.length === 1 ? records[0]! : assembleRecords(records, read.sizeInBytes, holds);
  const readAheadOffset = !fromReplica && records.length === 1 && read.nextFetchOffset < maxOffset && !isRecentAppendsBuffer(records[0]!) ? read.nextFetchOffset : undefined;
  return { target, data, log, partition: view.partition, logEndOffsetAtRead: logEndOffset, leaderEpochAtRead: view.partition.leaderEpoch, readAheadOffset };
}

/**
 * A follower's incremental fetch does not read a session partition marked quiet (markQuiet)
 * when nothing a read depends on has moved since: the follower is still at the leader's log
 * end, the high watermark and log start offset are those last answered, and this broker
 * still leads in the same epoch. The read would find no records and no error and the
 * incremental answer would leave the partition out, as Kafka's does; only the follower's
 * fetch state is recorded, as the read would (its caught-up time keeps it in the ISR).
 * Most partitions of a follower's session are idle at any moment (with Kafka's 50
 * __consumer_offsets partitions, nearly all), and each read was a metadata lookup, an epoch
 * check and a log read for nothing. Not for consumers: their reads are authorized per
 * topic on every request.
 */
function quietRead(target: Target, replicaId: number, nowMs: number): PartitionRead | undefined {
  const part = target.part;
  const mark = quietMarks.get(part);
  if (mark === undefined) return undefined;
  // A topic that no longer resolves (deleted, or its id unknown) is answered by a read.
  if (target.topic === undefined) {
    quietMarks.delete(part);
    return undefined;
  }
  const { partition } = mark;
  const log = partition.log;
  if (!partition.isLeader || partition.leaderEpoch !== mark.leaderEpoch || log.isClosed || log.isOffline
    || log.logEndOffset !== part.fetchOffset || log.highWatermark !== part.lastHighWatermark || log.logStartOffset !== part.lastLogStartOffset) {
    quietMarks.delete(part);
    return undefined;
  }
  followerFetched(partition, replicaId, part.fetchOffset, nowMs);
  const data: FetchResponsePartitionData = {
    partitionIndex: part.partition, errorCode: ErrorCode.NONE, highWatermark: part.lastHighWatermark, lastStableOffset: log.lastStableOffset,
    logStartOffset: part.lastLogStartOffset, abortedTransactions: null, preferredReadReplica: -1, records: NO_RECORDS,
  };
  return { target, data, log, partition, quiet: true };
}

/** After a follower's session read: marks a partition with nothing new at the log end quiet, or clears its mark. */
function markQuiet(r: PartitionRead, replicaId: number): void {
  const part = r.target.part;
  const { partition, data } = r;
  const quiet = partition !== undefined && replicaId >= 0 && data.errorCode === ErrorCode.NONE && data.divergingEpoch === undefined
    && (data.records === null || data.records.length === 0) && data.highWatermark >= 0
    && part.fetchOffset === r.logEndOffsetAtRead;
  if (quiet) quietMarks.set(part, { partition, leaderEpoch: r.leaderEpochAtRead! });
  else quietMarks.delete(part);
}
