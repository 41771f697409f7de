/**
 * The transaction coordinator follows `__transaction_state` leadership, as Kafka's
 * onLeadershipChange callbacks (TransactionCoordinator.onElection / onResignation): a
 * partition this broker becomes leader of is loaded (its transactional ids answered
 * COORDINATOR_LOAD_IN_PROGRESS until then, and transactions found half-ended are completed),
 * and one it stops leading is unloaded (its ids answer NOT_COORDINATOR; the new leader loads
 * them from the log). The coordinator epoch is the partition's leader epoch, so markers a
 * deposed coordinator still sends are fenced by the partitions' leaders.
 *
 * Called after TransactionCoordinator.startup(): it also reconciles once, so a leadership
 * change that happened while start-up was loading is not missed.
 */
import type { Logger } from '../logger.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { TransactionCoordinator } from './transaction-coordinator.js';

export function followTransactionStateLeadership(coordinator: TransactionCoordinator, replicaManager: ReplicaManager, topic: string, logger: Logger): () => void {
  const load = (partition: number): void => {
    if (coordinator.hasPartition(partition)) return;
    coordinator.loadPartition(partition).catch((err: unknown) => {
      logger.error('Loading a partition of the transaction coordinator failed', { topic, partition, err });
    });
  };
  const stop = replicaManager.onLeadershipChange((changed, partition, isLeader) => {
    if (changed !== topic) return;
    if (isLeader) load(partition);
    else if (coordinator.hasPartition(partition)) coordinator.unloadPartition(partition);
  });
  const leads = (p: number) => !('errorCode' in replicaManager.partition(topic, p));
  for (const p of coordinator.loadedPartitions()) if (!leads(p)) coordinator.unloadPartition(p);
  const partitions = replicaManager.metadataTopic(topic)?.partitions ?? [];
  for (const p of partitions) if (leads(p.partition)) load(p.partition);
  return stop;
}
