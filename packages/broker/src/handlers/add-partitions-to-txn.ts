/**
 * AddPartitionsToTxn (api key 24), versions 0-5.
 *
 * Behaviour (Kafka's KafkaApis.handleAddPartitionsToTxnRequest):
 * - v0-3 (clients): one transaction. If any partition does not exist, those get
 *   UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED, and nothing is added.
 *   Otherwise the coordinator adds them (the transaction becomes Ongoing) and every partition
 *   gets its answer: NONE, CONCURRENT_TRANSACTIONS while the previous transaction is ending,
 *   INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2),
 *   NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS.
 * - v4+ (brokers, KIP-890): a batch of transactions, each answered separately. `verify_only`
 *   adds nothing: it answers NONE for partitions in the producer's ongoing transaction and
 *   INVALID_TXN_STATE for the rest (how a partition leader defends against hanging
 *   transactions before it appends a transactional batch). v5 without verify_only is a
 *   partition leader adding partitions for a transactions-v2 producer (KIP-890 part 2:
 *   Produce v12+ and TxnOffsetCommit v5+ add their partition implicitly); the transaction it
 *   starts is a v2 one, whose EndTxn bumps the epoch.
 *
 * Authorization: v4+ (batched, from brokers) needs CLUSTER_ACTION on the cluster, v0-3 WRITE on
 * the transactional id and each topic, as Kafka (security/api-acls.ts and below).
 */
import { ApiKey, ErrorCode, type AddPartitionsToTxnRequestAddPartitionsToTxnTopic, type AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult } from '@tributary/protocol';
import { partitionExists } from '../group/handler-support.js';
import { fencedForVersion, PRODUCER_FENCED_MIN_VERSION } from '../transaction/errors.js';
import type { TopicPartitionRef } from '../transaction/transaction-metadata.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler, RequestContext } from './registry.js';

const FIRST_BATCHED_VERSION = 4;
/** AddPartitionsToTxn v5 (Kafka 4.0) adds for transactions v2 when sent by a partition leader. */
const FIRST_TV2_ADD_VERSION = 5;

function refs(topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]): TopicPartitionRef[] {
  const seen = new Set<string>();
  const out: TopicPartitionRef[] = [];
  for (const t of topics) {
    for (const partition of t.partitions) {
      const key = `${t.name}\u0000${partition}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ topic: t.name, partition });
    }
  }
  return out;
}

function byTopic(parts: readonly TopicPartitionRef[], codeOf: (p: TopicPartitionRef, i: number) => number): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] {
  const topics = new Map<string, AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult>();
  parts.forEach((p, i) => {
    let t = topics.get(p.topic);
    if (t === undefined) topics.set(p.topic, (t = { name: p.topic, resultsByPartition: [] }));
    t.resultsByPartition.push({ partitionIndex: p.partition, partitionErrorCode: codeOf(p, i) });
  });
  return [...topics.values()];
}

async function handleOne(ctx: RequestContext, transactionalId: string, producerId: number, producerEpoch: number, verifyOnly: boolean, topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]): Promise<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[]> {
  const parts = refs(topics);
  const coordinator = ctx.broker.txnCoordinator;
  const version = ctx.header.apiVersion;
  if (verifyOnly) {
    const r = coordinator.verifyPartitions(transactionalId, producerId, producerEpoch, parts);
    return byTopic(parts, (_p, i) => ('error' in r ? r.error : r.perPartition[i]!));
  }
  // Kafka: WRITE on every topic, else TOPIC_AUTHORIZATION_FAILED for its partitions and
  // OPERATION_NOT_ATTEMPTED for the others.
  const denied = new Set(parts.filter((p) => !authorized(ctx, AclOperation.WRITE, ResourceType.TOPIC, p.topic)).map((p) => p.topic));
  if (denied.size > 0) return byTopic(parts, (p) => (denied.has(p.topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED));
  const unknown = parts.filter((p) => !partitionExists(ctx, p.topic, p.partition));
  if (unknown.length > 0) {
    return byTopic(parts, (p) => (partitionExists(ctx, p.topic, p.partition) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
  }
  // v5 without verify_only is a partition leader adding a partition for a transactions-v2
  // producer (Produce v12+ / TxnOffsetCommit v5+): the transaction it starts is a v2 one.
  const transactionVersion2 = version >= FIRST_TV2_ADD_VERSION;
  const error = fencedForVersion(await coordinator.addPartitions(transactionalId, producerId, producerEpoch, parts, transactionVersion2), version, PRODUCER_FENCED_MIN_VERSION.AddPartitionsToTxn);
  return byTopic(parts, () => error);
}

export const addPartitionsToTxnHandler: Handler<'AddPartitionsToTxn'> = {
  apiKey: ApiKey.AddPartitionsToTxn,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    if (ctx.header.apiVersion >= FIRST_BATCHED_VERSION) {
      const resultsByTransaction = await Promise.all(
        (req.transactions ?? []).map(async (t) => ({
          transactionalId: t.transactionalId,
          topicResults: await handleOne(ctx, t.transactionalId, t.producerId, t.producerEpoch, t.verifyOnly, t.topics),
        })),
      );
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
    }
    const resultsByTopicV3AndBelow = await handleOne(ctx, req.v3AndBelowTransactionalId ?? '', req.v3AndBelowProducerId ?? -1, req.v3AndBelowProducerEpoch ?? -1, false, req.v3AndBelowTopics ?? []);
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow };
  },

  errorResponse(req, errorCode, ctx) {
    const all = (topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]) => byTopic(refs(topics), () => errorCode);
    if (ctx.header.apiVersion >= FIRST_BATCHED_VERSION) return { throttleTimeMs: 0, errorCode, resultsByTransaction: [] };
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow: all(req.v3AndBelowTopics ?? []) };
  },
};
