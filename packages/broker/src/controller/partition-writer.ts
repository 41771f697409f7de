/**
 * Writes one partition change computed from the partition's current state, with Kafka's
 * compare-and-swap on the partition epoch: the change is computed from what the store
 * holds now, written with that epoch expected, and on a stale epoch (the leader changed
 * the ISR meanwhile, another writer elected) recomputed from the new state and retried.
 * The controller, ElectLeaders and the reassignment APIs all write through here, so any
 * broker may run them without overwriting another writer's change.
 */
import type { MetadataStore, PartitionState } from '../metadata/metadata-store.js';
import { MetadataError } from '../metadata/metadata-store.js';
import type { PartitionTarget } from './partition-change.js';

/**
 * Attempts per change before giving up. A stale epoch means someone else wrote the same
 * partition in between; more than a handful in a row means a writer is looping, and the
 * caller (a timer or a client) will come back.
 */
export const PARTITION_WRITE_ATTEMPTS_MAX = 5;

export type WriteOutcome<R> =
  | { readonly written: true; readonly state: PartitionState }
  | { readonly written: false; readonly result: R };

/**
 * `compute` returns the change to write or a result meaning "nothing to write". Errors
 * other than a stale epoch (topic deleted meanwhile...) propagate as MetadataError.
 */
export async function writePartition<R>(
  metadata: MetadataStore, topic: string, partition: number,
  compute: (state: PartitionState) => { readonly change: PartitionTarget } | { readonly result: R },
): Promise<WriteOutcome<R>> {
  for (let attempt = 1; ; attempt++) {
    const state = metadata.topic(topic)?.partitions[partition];
    if (state === undefined) throw new MetadataError('TRIB_ERR_UNKNOWN_PARTITION', `Partition ${topic}-${partition} does not exist`);
    const computed = compute(state);
    if (!('change' in computed)) return { written: false, result: computed.result };
    try {
      const after = await metadata.updatePartition({ topic, partition, expectedPartitionEpoch: state.partitionEpoch, ...computed.change });
      return { written: true, state: after };
    } catch (err) {
      if (err instanceof MetadataError && err.code === 'TRIB_ERR_STALE_PARTITION_EPOCH' && attempt < PARTITION_WRITE_ATTEMPTS_MAX) continue;
      throw err;
    }
  }
}
