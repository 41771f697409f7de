/**
 * Builds the transaction coordinator from the broker's parts: `__transaction_state` through
 * the replica manager (the same adapter the group coordinator uses for `__consumer_offsets`),
 * the broker's producer-id blocks, and the partitions of the topic this broker leads.
 */
import type { LogManager } from '@tributary/storage';
import type { BrokerConfig } from '../config/broker-config.js';
import { ConsumerOffsetsLog } from '../group/consumer-offsets-log.js';
import type { Logger } from '../logger.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { ProducerIdManager } from './producer-id-manager.js';
import type { TxnMarkerWriter } from './marker-writer.js';
import { TransactionCoordinator } from './transaction-coordinator.js';

export interface TransactionCoordinatorWiring {
  readonly config: BrokerConfig;
  readonly replicaManager: ReplicaManager;
  readonly logManager: LogManager;
  readonly producerIds: ProducerIdManager;
  readonly markers: TxnMarkerWriter;
  readonly nodeId: number;
  readonly topic: string;
  readonly logger: Logger;
  readonly topicExists: () => boolean;
  readonly createTopic: () => Promise<void>;
}

export function createTransactionCoordinator(w: TransactionCoordinatorWiring): TransactionCoordinator {
  const numPartitions = w.config.number('transaction.state.log.num.partitions');
  return new TransactionCoordinator({
    config: {
      numPartitions,
      maxTimeoutMs: w.config.number('transaction.max.timeout.ms'),
      idExpirationMs: w.config.number('transactional.id.expiration.ms'),
      abortTimedOutIntervalMs: w.config.number('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
      removeExpiredIntervalMs: w.config.number('transaction.remove.expired.transaction.cleanup.interval.ms'),
    },
    // Every state change is acknowledged once the ISR has it (and fdatasync'ed when the topic
    // asks for durable acks): Partition.appendAsCoordinator. Kafka waits request.timeout.ms
    // (30 s) for it; here the same bound as an offset commit's.
    log: new ConsumerOffsetsLog(w.replicaManager, w.topic, w.config.number('offsets.commit.timeout.ms')),
    markers: w.markers,
    nextProducerId: () => w.producerIds.next(),
    ownedPartitions: () => {
      const owned: number[] = [];
      for (let p = 0; p < numPartitions; p++) if (!('errorCode' in w.replicaManager.partition(w.topic, p))) owned.push(p);
      return owned;
    },
    coordinatorEpoch: (partition) => {
      const view = w.replicaManager.partition(w.topic, partition);
      return 'errorCode' in view ? -1 : view.state.leaderEpoch;
    },
    topicExists: w.topicExists,
    createTopic: w.createTopic,
    logger: w.logger,
  });
}
