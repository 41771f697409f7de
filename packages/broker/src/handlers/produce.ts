/**
 * Produce (api key 0), versions 0-11.
 *
 * Behaviour (Kafka's KafkaApis.handleProduceRequest + ReplicaManager.appendRecords):
 * - acks must be -1, 0 or 1, else INVALID_REQUIRED_ACKS on every partition that exists
 *   (as in Kafka, a partition that does not exist still answers UNKNOWN_TOPIC_OR_PARTITION).
 * - Each partition carries exactly one v2 record batch; it is validated (size, magic, CRC,
 *   counts, framing, compression, timestamps), sequence-checked for idempotent producers
 *   against the log's producer state (storage's ProducerStateManager: Kafka 3.9's
 *   OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH / INVALID_TXN_STATE; a resent
 *   batch among the producer's last five is answered with its original offsets and its max
 *   timestamp as log_append_time, not appended; with acks=-1 once the high watermark passes
 *   that original batch, as Kafka's requiredOffset), given offsets and the leader epoch in
 *   place, and appended. Errors are per partition.
 * - acks=0: no response at all (NO_RESPONSE); acks=1: answered once written to the leader's
 *   log; acks=-1: answered once the high watermark passes the batch (every in-sync replica
 *   has it) and, with flush.durable.acks, fdatasync'ed; REQUEST_TIMED_OUT after timeout_ms,
 *   NOT_ENOUGH_REPLICAS (before the append) and NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR
 *   shrank below min.insync.replicas while waiting) as in Kafka's DelayedProduce.
 * - LogAppendTime topics report the broker's append time (else -1).
 * - Per-record refusals (no key in a compacted topic, a timestamp outside the
 *   message.timestamp.* window) fail the batch and list every refused record in
 *   record_errors (v8+) with Kafka's messages; a topic compression.type other than
 *   `producer` stores the batch rebuilt in that codec (replica/log-validator.ts).
 * - A partition named twice is appended once, with the last mention's records, and
 *   answered once; a topic named twice gets one response entry (Kafka keys the request
 *   by topic-partition in a map and builds the response from it, grouped by topic).
 *
 * - Versions 0-2 carry message sets of format v0/v1 (magic 0/1); each partition's set is
 *   converted to one v2 batch first (produce-legacy.ts), as Kafka 3.x does. Kafka 4 no
 *   longer serves these versions (KIP-896); Tributary keeps serving them for old clients.
 *
 * - acks=0 that fails on any partition closes the connection (Kafka does, so that the
 *   producer notices), after the responses to earlier requests on it are written.
 *
 * - Transactional batches are verified with the transaction coordinator first (KIP-890,
 *   transaction/produce-verification.ts): a partition not in the producer's ongoing
 *   transaction gets INVALID_TXN_STATE and nothing is appended to it. A transactional batch
 *   in a request without a transactional id fails the whole request with
 *   TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as in Kafka.
 *
 * - Authorization (with an authorizer): a transactional id needs WRITE on it, else the whole
 *   request is TRANSACTIONAL_ID_AUTHORIZATION_FAILED; each topic needs WRITE, else its
 *   partitions are TOPIC_AUTHORIZATION_FAILED (before existence is looked at, so an
 *   unauthorized producer cannot probe for topics) and nothing is appended to them.
 */
import {
  ApiKey,
  ErrorCode,
  errorInfo,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
  type ProduceResponseTopicProduceResponse,
} from '@tributary/protocol';
import { CloseConnection, NO_RESPONSE, type Handler, type NoResponse, type RequestContext } from './registry.js';
import type { AppendRequest, PartitionAppendResult } from '../replica/replica-manager.js';
import { appendLegacy } from './produce-legacy.js';
import { NO_TRANSACTIONAL_ID, verifyTransactionalProduce, type ProduceRefusals } from '../transaction/produce-verification.js';
import { authorized } from '../security/api-acls.js';
import { releaseRequestBytes } from '../replica/written-appends.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

/** Produce v0-2 may carry message format v0/v1; v3 and later only v2 batches. */
const LAST_LEGACY_VERSION = 2;

/** Produce v12+ is transactions v2 (KIP-890 part 2): the leader adds the partition to the transaction. */
const FIRST_TV2_PRODUCE_VERSION = 12;

export const produceHandler: Handler<'Produce'> = {
  apiKey: ApiKey.Produce,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 12,

  handle(request, ctx) {
    const req = distinctPartitions(request);
    const { replicaManager } = ctx.broker;
    const version = ctx.header.apiVersion;
    const acks = req.acks;
    const nowMs = Date.now();
    if (acks !== -1 && acks !== 0 && acks !== 1) {
      const response = errorResponse(req, ErrorCode.INVALID_REQUIRED_ACKS);
      for (const topic of response.responses) {
        for (const p of topic.partitionResponses) {
          const found = replicaManager.partition(topic.name, p.index);
          if ('errorCode' in found && found.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) p.errorCode = found.errorCode;
        }
      }
      return response;
    }
    let unauthorizedTopics: Set<string> | null = null;
    if (ctx.broker.authorizer) {
      if (req.transactionalId !== null && req.transactionalId !== undefined
        && !authorized(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) {
        return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      }
      for (const topic of req.topicData) {
        if (!authorized(ctx, AclOperation.WRITE, ResourceType.TOPIC, topic.name)) (unauthorizedTopics ??= new Set()).add(topic.name);
      }
    }
    // Transactional batches only for partitions in the producer's transaction (KIP-890); the
    // answer is a promise when the coordinator is another broker or the partition is added (v12+).
    const refused = verifyTransactionalProduce(ctx.broker.txnPartitions, req, version >= FIRST_TV2_PRODUCE_VERSION ? 'add' : 'verify');
    if (refused === NO_TRANSACTIONAL_ID) return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (refused instanceof Promise) return refused.then((r) => appendAll(req, ctx, r, unauthorizedTopics, nowMs));
    return appendAll(req, ctx, refused, unauthorizedTopics, nowMs, true);
  },

  errorResponse(req, errorCode) {
    return errorResponse(distinctPartitions(req), errorCode);
  },
};

/** Appends every partition not refused, each started synchronously in request order. */
function appendAll(req: ProduceRequest, ctx: RequestContext, refused: ProduceRefusals, unauthorizedTopics: Set<string> | null, nowMs: number, fromHandle = false): ReturnType<typeof finish> | Promise<ReturnType<typeof finish>> {
  const { replicaManager } = ctx.broker;
  const version = ctx.header.apiVersion;
  const acks = req.acks;
  // Start every partition's append synchronously, in request order (see ReplicaManager).
  // Most complete at once; the response waits only if one of them has to.
  let waiting = false;
  let allWritten = true;
  const results: (PartitionAppendResult | Promise<PartitionAppendResult>)[][] = req.topicData.map((topic) =>
    topic.partitionData.map((p) => {
      if (unauthorizedTopics?.has(topic.name)) return refusedAppend({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
      const refusal = refused?.get(`${topic.name}\u0000${p.index}`);
      if (refusal !== undefined) return refusedAppend(refusal);
      const append: AppendRequest = { topic: topic.name, partition: p.index, records: p.records, acks, produceVersion: version, nowMs, timeoutMs: req.timeoutMs };
      const r = version <= LAST_LEGACY_VERSION ? appendLegacy(replicaManager, append) : replicaManager.append(append);
      if (r instanceof Promise) {
        waiting = true;
        if (append.written !== true) allWritten = false;
      }
      return r;
    }),
  );
  if (!waiting) return finish(req, results as PartitionAppendResult[][], ctx);
  // Every append is in the log and only waits for the ISR: the request's frame may go back
  // to the pool now (replica/written-appends.ts), as an acks=1 request's does.
  if (fromHandle && allWritten) releaseRequestBytes(ctx);
  return Promise.all(results.map((topic) => Promise.all(topic))).then((settled) => finish(req, settled, ctx));
}

type TopicData = ProduceRequest['topicData'][number];
type PartitionData = TopicData['partitionData'][number];

/**
 * The request with each topic-partition once, as Kafka's handleProduceRequest sees it
 * (a map from topic-partition to records: the last mention wins) and each topic once, in
 * the order of first mention. Requests without repeats are returned as they are.
 */
function distinctPartitions(req: ProduceRequest): ProduceRequest {
  if (!namesRepeats(req)) return req;
  const topics = new Map<string, { topic: TopicData; partitions: Map<number, PartitionData> }>();
  for (const topic of req.topicData) {
    let entry = topics.get(topic.name);
    if (entry === undefined) topics.set(topic.name, (entry = { topic, partitions: new Map() }));
    for (const p of topic.partitionData) entry.partitions.set(p.index, p);
  }
  const topicData = [...topics.values()].map(({ topic, partitions }) => ({ ...topic, partitionData: [...partitions.values()] }));
  return { ...req, topicData };
}

function namesRepeats(req: ProduceRequest): boolean {
  const topics = req.topicData;
  if (topics.length === 1 && topics[0]!.partitionData.length <= 1) return false;
  const seenTopics = new Set<string>();
  for (const topic of topics) {
    if (seenTopics.has(topic.name)) return true;
    seenTopics.add(topic.name);
    const parts = topic.partitionData;
    // Pairwise for the few partitions of a usual request (no allocation); a set beyond.
    if (parts.length > 16) {
      if (new Set(parts.map((p) => p.index)).size !== parts.length) return true;
      continue;
    }
    for (let i = 1; i < parts.length; i++) {
      for (let j = 0; j < i; j++) if (parts[j]!.index === parts[i]!.index) return true;
    }
  }
  return false;
}

function finish(req: ProduceRequest, results: PartitionAppendResult[][], ctx: RequestContext): ProduceResponse | NoResponse | CloseConnection {
  const responses: ProduceResponseTopicProduceResponse[] = [];
  const failures: string[] = [];
  for (let t = 0; t < req.topicData.length; t++) {
    const topic = req.topicData[t]!;
    const topicResults = results[t]!;
    const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
    for (let i = 0; i < topicResults.length; i++) {
      const r = topicResults[i]!;
      const index = topic.partitionData[i]!.index;
      if (r.errorCode !== ErrorCode.NONE) failures.push(`${topic.name}-${index}: ${errorInfo(r.errorCode).name}`);
      partitionResponses.push({
        index,
        errorCode: r.errorCode,
        baseOffset: r.baseOffset,
        logAppendTimeMs: r.logAppendTimeMs,
        logStartOffset: r.logStartOffset,
        recordErrors: r.recordErrors,
        errorMessage: r.errorMessage,
      });
    }
    responses.push({ name: topic.name, partitionResponses });
  }
  if (req.acks === 0) {
    if (failures.length === 0) return NO_RESPONSE;
    // An acks=0 producer reads no responses: Kafka closes its connection so that it
    // notices (and refreshes its metadata) rather than failing silently.
    return new CloseConnection(`error during an acks=0 produce request with correlation id ${ctx.header.correlationId} from client id ${JSON.stringify(ctx.header.clientId)}: ${failures.join(', ')}`);
  }
  return { responses, throttleTimeMs: 0 };
}

function refusedAppend(refusal: { errorCode: number; errorMessage: string | null }): PartitionAppendResult {
  return { errorCode: refusal.errorCode, errorMessage: refusal.errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] };
}

function errorResponse(req: ProduceRequest, errorCode: number, errorMessage: string | null = null): ProduceResponse {
  return {
    throttleTimeMs: 0,
    responses: req.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((p) => ({
        index: p.index,
        errorCode,
        baseOffset: -1,
        logAppendTimeMs: -1,
        logStartOffset: -1,
        recordErrors: [],
        errorMessage,
      })),
    })),
  };
}

