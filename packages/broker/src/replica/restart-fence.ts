/**
 * A restarted broker in a cluster does not lead a partition it found itself leading at start
 * in that leader epoch (Partition previousIncarnationEpoch): its previous incarnation may have
 * exposed a higher high watermark in it, or, after a power loss, written offsets this log no
 * longer holds. Kafka's restarted broker is fenced until the controller has elected again.
 *
 * The controller fences a new incarnation when it sees one (controller/controller.ts). A
 * registration no controller saw as new (the cluster starting cold: the broker registered
 * before any controller ran, or it runs the controller itself) would leave such partitions
 * waiting for good, so once registered the broker writes the same change itself, through the
 * same compare-and-swap (controller/partition-writer.ts): fenceIncarnation — out of the ISR,
 * another in-sync replica leads, or it leads again in a new epoch when it is the last one.
 * Whichever of the two writes second finds nothing left to do.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import { clusterView, uncleanLeaderElectionEnabled } from '../controller/controller.js';
import { fenceIncarnation } from '../controller/partition-change.js';
import { writePartition } from '../controller/partition-writer.js';
import type { Logger } from '../logger.js';
import { MetadataError, type MetadataStore } from '../metadata/metadata-store.js';
import type { ReplicaManager } from './replica-manager.js';

export function fenceRestartedLeadership(replicaManager: ReplicaManager, metadata: MetadataStore, nodeId: number, config: () => BrokerConfig, logger: Logger): void {
  const waiting = [...replicaManager.allPartitions()].filter((p) => p.awaitingNewLeaderEpoch);
  if (waiting.length === 0) return;
  logger.info('Restarted broker: partitions it led before wait for a new leader epoch', { partitions: waiting.length });
  void (async () => {
    for (const p of waiting) {
      const topic = metadata.topic(p.topic);
      if (topic === undefined) continue;
      try {
        await writePartition(metadata, p.topic, p.partition, (state) => {
          const fenced = p.previousIncarnationEpoch;
          if (fenced === undefined || state.leader !== nodeId || state.leaderEpoch > fenced) return { result: null };
          const change = fenceIncarnation(state, clusterView(metadata), nodeId, uncleanLeaderElectionEnabled(topic, config()));
          return change === null ? { result: null } : { change };
        });
      } catch (err) {
        // The controller wrote first, or the topic went: nothing left to do. Else the
        // controller's fence (or its next pass) still applies; the partition waits for it.
        if (err instanceof MetadataError && (err.code === 'TRIB_ERR_UNKNOWN_TOPIC' || err.code === 'TRIB_ERR_UNKNOWN_PARTITION')) continue;
        logger.warn('Could not fence a partition this broker led before its restart; the controller will', { topic: p.topic, partition: p.partition, err: err instanceof Error ? err.message : String(err) });
      }
    }
  })();
}
