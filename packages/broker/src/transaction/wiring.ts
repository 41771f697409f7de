/**
 * Builds the transaction coordinator from the broker's parts: `__transaction_state` through
 * the replica manager (the same adapter the group coordinator uses for `__consumer_offsets`),
 * the broker's producer-id blocks, and the partitions of the topic this broker leads; and its
 * inter-broker side: the marker channel (markers to partitions other brokers lead) and the
 * AddPartitionsToTxn manager (a partition leader's questions to coordinators elsewhere),
 * sharing one set of inter-broker connections.
 */
import type { LogManager } from '@tributary/storage';
import type { BrokerConfig } from '../config/broker-config.js';
import { ConsumerOffsetsLog } from '../group/consumer-offsets-log.js';
import type { Logger } from '../logger.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { InterBrokerClient } from '../network/inter-broker-client.js';
import { AddPartitionsToTxnManager } from './add-partitions-manager.js';
import { TxnMarkerChannel } from './marker-channel.js';
import type { ProducerIdManager } from './producer-id-manager.js';
import type { TxnMarkerWriter } from './marker-writer.js';
import { TransactionCoordinator } from './transaction-coordinator.js';

export interface TransactionCoordinatorWiring {
  readonly config: BrokerConfig;
  readonly replicaManager: ReplicaManager;
  readonly logManager: LogManager;
  readonly producerIds: ProducerIdManager;
  /** Writes markers to partitions this broker leads (what WriteTxnMarkers serves). */
  readonly markers: TxnMarkerWriter;
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  readonly topic: string;
  readonly logger: Logger;
  readonly topicExists: () => boolean;
  readonly createTopic: () => Promise<void>;
}

/**
 * How long an inter-broker transaction request (WriteTxnMarkers, AddPartitionsToTxn) may go
 * unanswered before its connection is dropped and the request retried: Kafka's
 * request.timeout.ms default, which its marker channel and AddPartitionsToTxnManager use.
 */
const INTER_BROKER_REQUEST_TIMEOUT_MS = 30_000;

export interface TransactionServices {
  readonly coordinator: TransactionCoordinator;
  readonly addPartitions: AddPartitionsToTxnManager;
  /** Closes the inter-broker connections (after the coordinator has shut down). */
  readonly close: () => void;
}

export function createTransactionCoordinator(w: TransactionCoordinatorWiring): TransactionServices {
  const numPartitions = w.config.number('transaction.state.log.num.partitions');
  const client = new InterBrokerClient({ nodeId: w.nodeId, metadata: w.metadata, config: w.config, clientName: 'transaction' });
  const leaderOf = (topic: string, partition: number): number | undefined => w.metadata.topic(topic)?.partitions[partition]?.leader;
  const channel = new TxnMarkerChannel({ nodeId: w.nodeId, local: w.markers, leaderOf, client, requestTimeoutMs: INTER_BROKER_REQUEST_TIMEOUT_MS, logger: w.logger });
  const coordinator = new TransactionCoordinator({
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
    markers: channel,
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
  const addPartitions = new AddPartitionsToTxnManager({
    nodeId: w.nodeId,
    coordinator,
    coordinatorNodeOf: (partition) => leaderOf(w.topic, partition),
    client,
    requestTimeoutMs: INTER_BROKER_REQUEST_TIMEOUT_MS,
    logger: w.logger,
  });
  return { coordinator, addPartitions, close: () => client.close() };
}
