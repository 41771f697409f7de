/**
 * A partition leader's questions to transaction coordinators (Kafka's AddPartitionsToTxnManager):
 * before a transactional batch is appended, the coordinator of its transactional id is asked
 * whether the partition is in the producer's ongoing transaction (KIP-890 part 1, `verify`),
 * or, for transactions v2 (Produce v12+, TxnOffsetCommit v5+), to add it (`add`: KIP-890 part
 * 2's implicit partition addition).
 *
 * The coordinator is the leader of the id's `__transaction_state` partition. When that is this
 * broker it is asked in-process; otherwise the question joins the queue of that broker and
 * goes out in an AddPartitionsToTxn v5 request (v4+ are the broker-to-broker versions: several
 * transactions per request, `verify_only` per transaction). One request per coordinator is in
 * flight; questions arriving meanwhile go out together in the next one. A second question for
 * the same transactional id waits for the next request, as the request holds each id once.
 *
 * Answers are per partition, in the coordinator's codes; a coordinator the metadata does not
 * name answers COORDINATOR_NOT_AVAILABLE and a request that fails (connection lost, no answer
 * within the timeout) NETWORK_EXCEPTION, as Kafka's manager does. produce-verification.ts
 * turns them into Produce answers.
 */
import { ErrorCode, type AddPartitionsToTxnRequest, type AddPartitionsToTxnResponse } from '@tributary/protocol';
import type { Logger } from '../logger.js';
import type { InterBrokerClient } from '../network/inter-broker-client.js';
import type { TransactionCoordinator } from './transaction-coordinator.js';
import type { TopicPartitionRef } from './transaction-metadata.js';

/** The broker-to-broker version sent: v5 (Kafka 4.0; v4 lacks TRANSACTION_ABORTABLE). */
export const BROKER_ADD_PARTITIONS_VERSION = 5;

/** `verify`: KIP-890 part 1 (verify_only); `add`: transactions v2's implicit addition. */
export type TxnPartitionsOperation = 'verify' | 'add';

export interface TxnPartitionsQuestion {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly partitions: readonly TopicPartitionRef[];
  readonly operation: TxnPartitionsOperation;
}

/** The coordinator's code for each partition of the question, in order. */
export type TxnPartitionsAnswer = number[];

export interface AddPartitionsManagerDeps {
  readonly nodeId: number;
  readonly coordinator: TransactionCoordinator;
  /** The broker leading `__transaction_state` partition `partition`, or -1 / undefined when none does. */
  readonly coordinatorNodeOf: (partition: number) => number | undefined;
  readonly client: InterBrokerClient;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

interface Queued {
  readonly question: TxnPartitionsQuestion;
  readonly resolve: (answer: TxnPartitionsAnswer) => void;
}

interface Destination {
  queue: Queued[];
  sending: boolean;
}

export class AddPartitionsToTxnManager {
  private readonly destinations = new Map<number, Destination>();

  constructor(private readonly deps: AddPartitionsManagerDeps) {}

  /** Whether this broker is the coordinator of the id (answered in-process, synchronously for `verify`). */
  isLocal(transactionalId: string): boolean {
    return this.deps.coordinatorNodeOf(this.deps.coordinator.partitionFor(transactionalId)) === this.deps.nodeId;
  }

  ask(q: TxnPartitionsQuestion): TxnPartitionsAnswer | Promise<TxnPartitionsAnswer> {
    const all = (code: number) => q.partitions.map(() => code);
    const node = this.deps.coordinatorNodeOf(this.deps.coordinator.partitionFor(q.transactionalId));
    if (node === this.deps.nodeId) return this.askLocal(q);
    if (node === undefined || node < 0) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    let d = this.destinations.get(node);
    if (d === undefined) this.destinations.set(node, (d = { queue: [], sending: false }));
    const dest = d;
    return new Promise((resolve) => {
      dest.queue.push({ question: q, resolve });
      if (!dest.sending) void this.drain(node, dest);
    });
  }

  private askLocal(q: TxnPartitionsQuestion): TxnPartitionsAnswer | Promise<TxnPartitionsAnswer> {
    const coordinator = this.deps.coordinator;
    if (q.operation === 'add') {
      return coordinator.addPartitions(q.transactionalId, q.producerId, q.producerEpoch, q.partitions, true).then((code) => q.partitions.map(() => code));
    }
    const r = coordinator.verifyPartitions(q.transactionalId, q.producerId, q.producerEpoch, q.partitions);
    return 'error' in r ? q.partitions.map(() => r.error) : r.perPartition;
  }

  private async drain(node: number, dest: Destination): Promise<void> {
    dest.sending = true;
    try {
      while (dest.queue.length > 0) {
        const batch: Queued[] = [];
        const rest: Queued[] = [];
        const ids = new Set<string>();
        for (const q of dest.queue) {
          if (ids.has(q.question.transactionalId)) rest.push(q);
          else {
            ids.add(q.question.transactionalId);
            batch.push(q);
          }
        }
        dest.queue = rest;
        await this.send(node, batch);
      }
    } finally {
      dest.sending = false;
      if (dest.queue.length === 0) this.destinations.delete(node);
    }
  }

  private async send(node: number, batch: Queued[]): Promise<void> {
    const request: AddPartitionsToTxnRequest = {
      transactions: batch.map(({ question: q }) => ({
        transactionalId: q.transactionalId,
        producerId: q.producerId,
        producerEpoch: q.producerEpoch,
        verifyOnly: q.operation === 'verify',
        topics: groupByTopic(q.partitions),
      })),
    };
    let response: AddPartitionsToTxnResponse;
    try {
      response = await this.deps.client.request(node, 'AddPartitionsToTxn', BROKER_ADD_PARTITIONS_VERSION, request, this.deps.requestTimeoutMs);
    } catch (err) {
      this.deps.logger.debug('AddPartitionsToTxn to a transaction coordinator failed', { node, err: err instanceof Error ? err.message : String(err) });
      for (const q of batch) q.resolve(q.question.partitions.map(() => ErrorCode.NETWORK_EXCEPTION));
      return;
    }
    // Kafka: a top-level error (CLUSTER_AUTHORIZATION_FAILED becomes INVALID_TXN_STATE) answers every partition.
    const topLevel = response.errorCode ?? ErrorCode.NONE;
    for (const { question: q, resolve } of batch) {
      if (topLevel !== ErrorCode.NONE) {
        resolve(q.partitions.map(() => (topLevel === ErrorCode.CLUSTER_AUTHORIZATION_FAILED ? ErrorCode.INVALID_TXN_STATE : topLevel)));
        continue;
      }
      const answer = response.resultsByTransaction?.find((t) => t.transactionalId === q.transactionalId);
      resolve(
        q.partitions.map(({ topic, partition }) => {
          const p = answer?.topicResults.find((t) => t.name === topic)?.resultsByPartition.find((x) => x.partitionIndex === partition);
          // Not answered: Kafka's manager treats a partition missing from the answer as not verified.
          return p?.partitionErrorCode ?? ErrorCode.INVALID_TXN_STATE;
        }),
      );
    }
  }
}

function groupByTopic(partitions: readonly TopicPartitionRef[]): { name: string; partitions: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    let list = topics.get(topic);
    if (list === undefined) topics.set(topic, (list = []));
    list.push(partition);
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}
