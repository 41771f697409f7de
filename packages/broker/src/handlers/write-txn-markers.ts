/**
 * WriteTxnMarkers (api key 27), versions 0-1.
 *
 * Behaviour (Kafka's handleWriteTxnMarkersRequest): a transaction coordinator asks the leader
 * of each partition to append a COMMIT or ABORT control batch for a producer. Each partition
 * is answered separately: NONE once the marker is written, UNKNOWN_TOPIC_OR_PARTITION,
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR. Markers on `__consumer_offsets` partitions also
 * materialize or drop the transaction's pending offsets in the group coordinator.
 *
 * Authorization (security/api-acls.ts): CLUSTER_ACTION on the cluster, as Kafka; without it
 * the request is answered CLUSTER_AUTHORIZATION_FAILED.
 */
import { ApiKey, type WriteTxnMarkersRequest } from '@tributary/protocol';
import type { Handler } from './registry.js';

function flatten(topics: WriteTxnMarkersRequest['markers'][number]['topics']): { topic: string; partition: number }[] {
  return topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
}

export const writeTxnMarkersHandler: Handler<'WriteTxnMarkers'> = {
  apiKey: ApiKey.WriteTxnMarkers,
  name: 'WriteTxnMarkers',
  minVersion: 0,
  maxVersion: 1,

  async handle(req, ctx) {
    const markers = await Promise.all(
      req.markers.map(async (m) => {
        const codes = await ctx.broker.txnMarkers.write({ producerId: m.producerId, producerEpoch: m.producerEpoch, coordinatorEpoch: m.coordinatorEpoch, commit: m.transactionResult, partitions: flatten(m.topics) });
        let i = 0;
        return {
          producerId: m.producerId,
          topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: codes[i++]! })) })),
        };
      }),
    );
    return { markers };
  },

  errorResponse(req, errorCode) {
    return { markers: req.markers.map((m) => ({ producerId: m.producerId, topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode })) })) })) };
  },
};
