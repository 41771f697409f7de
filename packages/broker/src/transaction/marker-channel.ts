/**
 * Transaction markers in a cluster (Kafka's TransactionMarkerChannelManager): each partition
 * of an ending transaction gets its marker from its leader. Partitions this broker leads are
 * written in place (LocalTxnMarkerWriter); the others are queued per destination broker and
 * sent as WriteTxnMarkers v1, every marker queued for that broker while the previous request
 * was in flight going out together in the next one (Kafka drains a broker's queue into one
 * request per send). At most one request per destination is in flight, so markers for one
 * broker are written in the order they were queued.
 *
 * Per partition the coordinator gets a Kafka error code and decides (transaction-coordinator.ts,
 * as TransactionMarkerRequestCompletionHandler): a partition whose leader is unknown or
 * moving (-1) answers NOT_LEADER_OR_FOLLOWER and is retried; a partition missing from the
 * metadata (its topic deleted) answers UNKNOWN_TOPIC_OR_PARTITION, as Kafka skips a marker
 * whose partition has no leader entry; a request that fails (connection lost, destination
 * stopped, no answer within the request timeout) answers REQUEST_TIMED_OUT for each of its
 * partitions, which the coordinator retries against the leaders the metadata names then.
 */
import { ErrorCode, type WriteTxnMarkersRequest, type WriteTxnMarkersResponse } from '@tributary/protocol';
import type { Logger } from '../logger.js';
import type { InterBrokerClient } from '../network/inter-broker-client.js';
import type { TopicPartitionRef } from './transaction-metadata.js';
import type { TxnMarker, TxnMarkerWriter } from './marker-writer.js';

/** WriteTxnMarkers v1: the flexible version, served by every Kafka broker since 2.8. */
export const WRITE_TXN_MARKERS_VERSION = 1;

export interface TxnMarkerChannelDeps {
  readonly nodeId: number;
  /** Writes markers to partitions this broker leads. */
  readonly local: TxnMarkerWriter;
  /** The leader of a partition (-1 while it has none), or undefined when the partition does not exist. */
  readonly leaderOf: (topic: string, partition: number) => number | undefined;
  readonly client: InterBrokerClient;
  /** request.timeout.ms of the inter-broker requests (Kafka: the marker channel's request timeout). */
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

interface Queued {
  readonly marker: TxnMarker;
  readonly partitions: TopicPartitionRef[];
  readonly resolve: (codes: number[]) => void;
}

/** A marker destination: the queue of one broker and whether a request to it is in flight. */
interface Destination {
  queue: Queued[];
  sending: boolean;
}

export class TxnMarkerChannel implements TxnMarkerWriter {
  private readonly destinations = new Map<number, Destination>();

  constructor(private readonly deps: TxnMarkerChannelDeps) {}

  async write(marker: TxnMarker): Promise<number[]> {
    const codes: number[] = new Array<number>(marker.partitions.length).fill(ErrorCode.NONE);
    const local: number[] = [];
    const remote = new Map<number, number[]>();
    marker.partitions.forEach(({ topic, partition }, i) => {
      const leader = this.deps.leaderOf(topic, partition);
      if (leader === undefined) codes[i] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else if (leader < 0) codes[i] = ErrorCode.NOT_LEADER_OR_FOLLOWER;
      else if (leader === this.deps.nodeId) local.push(i);
      else {
        let list = remote.get(leader);
        if (list === undefined) remote.set(leader, (list = []));
        list.push(i);
      }
    });
    const writes: Promise<void>[] = [];
    if (local.length > 0) {
      writes.push(
        this.deps.local.write({ ...marker, partitions: local.map((i) => marker.partitions[i]!) }).then((r) => {
          local.forEach((i, j) => (codes[i] = r[j]!));
        }),
      );
    }
    for (const [broker, indexes] of remote) {
      writes.push(
        this.enqueue(broker, marker, indexes.map((i) => marker.partitions[i]!)).then((r) => {
          indexes.forEach((i, j) => (codes[i] = r[j]!));
        }),
      );
    }
    await Promise.all(writes);
    return codes;
  }

  private enqueue(broker: number, marker: TxnMarker, partitions: TopicPartitionRef[]): Promise<number[]> {
    let d = this.destinations.get(broker);
    if (d === undefined) this.destinations.set(broker, (d = { queue: [], sending: false }));
    const dest = d;
    return new Promise((resolve) => {
      dest.queue.push({ marker, partitions, resolve });
      if (!dest.sending) void this.drain(broker, dest);
    });
  }

  /** Sends the destination's queue, one request at a time, until it is empty. */
  private async drain(broker: number, dest: Destination): Promise<void> {
    dest.sending = true;
    try {
      while (dest.queue.length > 0) {
        // One entry per producer id in a request: the response names markers by producer id.
        const batch: Queued[] = [];
        const rest: Queued[] = [];
        const producers = new Set<number>();
        for (const q of dest.queue) {
          if (producers.has(q.marker.producerId)) rest.push(q);
          else {
            producers.add(q.marker.producerId);
            batch.push(q);
          }
        }
        dest.queue = rest;
        await this.send(broker, batch);
      }
    } finally {
      dest.sending = false;
      if (dest.queue.length === 0) this.destinations.delete(broker);
    }
  }

  private async send(broker: number, batch: Queued[]): Promise<void> {
    const request: WriteTxnMarkersRequest = {
      markers: batch.map(({ marker, partitions }) => ({
        producerId: marker.producerId,
        producerEpoch: marker.producerEpoch,
        transactionResult: marker.commit,
        topics: groupByTopic(partitions),
        coordinatorEpoch: marker.coordinatorEpoch,
      })),
    };
    let response: WriteTxnMarkersResponse;
    try {
      response = await this.deps.client.request(broker, 'WriteTxnMarkers', WRITE_TXN_MARKERS_VERSION, request, this.deps.requestTimeoutMs);
    } catch (err) {
      this.deps.logger.debug('WriteTxnMarkers to a partition leader failed; the coordinator retries', { broker, err: err instanceof Error ? err.message : String(err) });
      for (const q of batch) q.resolve(q.partitions.map(() => ErrorCode.REQUEST_TIMED_OUT));
      return;
    }
    for (const q of batch) {
      const answer = response.markers.find((m) => m.producerId === q.marker.producerId);
      q.resolve(
        q.partitions.map(({ topic, partition }) => {
          const p = answer?.topics.find((t) => t.name === topic)?.partitions.find((x) => x.partitionIndex === partition);
          // A leader that leaves a partition out of its answer has not written it: retry.
          return p?.errorCode ?? ErrorCode.REQUEST_TIMED_OUT;
        }),
      );
    }
  }
}

function groupByTopic(partitions: readonly TopicPartitionRef[]): { name: string; partitionIndexes: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    let list = topics.get(topic);
    if (list === undefined) topics.set(topic, (list = []));
    list.push(partition);
  }
  return [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
}
