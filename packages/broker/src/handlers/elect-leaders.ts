/**
 * ElectLeaders (api key 43), versions 0-2.
 *
 * Behaviour (Kafka's, KRaft controller: ReplicationControlManager.electLeaders):
 * - electionType (v1+; v0 is always preferred): 0 PREFERRED makes the first replica leader
 *   if it is live and in the ISR; 1 UNCLEAN gives a leaderless partition a leader, from
 *   the live ISR if possible, else any live replica (ISR = [it]; records may be lost),
 *   whatever unclean.leader.election.enable says. Another type: INVALID_REQUEST for every
 *   partition.
 * - Per partition: UNKNOWN_TOPIC_OR_PARTITION ("No such topic as t" / "No such partition
 *   as t-p"); ELECTION_NOT_NEEDED when the preferred replica already leads (preferred) or
 *   the partition has a leader (unclean); PREFERRED_LEADER_NOT_AVAILABLE;
 *   ELIGIBLE_LEADERS_NOT_AVAILABLE; NONE when the leader changed (leader epoch bumped).
 * - topicPartitions null: every partition of every topic, and only the partitions whose
 *   election was needed are listed in the answer (Kafka leaves ELECTION_NOT_NEEDED out).
 * - The top-level errorCode (v1+) is NONE.
 *
 * Deliberate differences from Kafka:
 * - Served by the broker that receives it, with a compare-and-swap on each partition's
 *   epoch, rather than forwarded to the controller (controller/admin-operations.ts).
 * - timeoutMs is not used: the elections are written before the answer.
 */
import type { ElectLeadersResponseReplicaElectionResult } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ElectionType, electLeader } from '../controller/admin-operations.js';
import type { Handler } from './registry.js';

/** Partitions elected per turn of the event loop when the request names all of them. */
const ELECTIONS_PER_TURN = 100;

export const electLeadersHandler: Handler<'ElectLeaders'> = {
  apiKey: ApiKey.ElectLeaders,
  name: 'ElectLeaders',
  minVersion: 0,
  maxVersion: 2,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const electionType = version >= 1 ? req.electionType ?? ElectionType.PREFERRED : ElectionType.PREFERRED;
    const metadata = ctx.broker.metadata;
    const all = req.topicPartitions === null;
    const wanted = req.topicPartitions ?? metadata.topics().map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => p.partition) }));
    const results: ElectLeadersResponseReplicaElectionResult[] = [];
    let done = 0;
    for (const { topic, partitions } of wanted) {
      const partitionResult: ElectLeadersResponseReplicaElectionResult['partitionResult'] = [];
      for (const partitionId of partitions) {
        if (electionType !== ElectionType.PREFERRED && electionType !== ElectionType.UNCLEAN) {
          partitionResult.push({ partitionId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown election type ${electionType}` });
          continue;
        }
        const outcome = await electLeader(metadata, topic, partitionId, electionType);
        if (all && outcome.errorCode === ErrorCode.ELECTION_NOT_NEEDED) continue;
        partitionResult.push({ partitionId, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
        if (++done % ELECTIONS_PER_TURN === 0) await nextTurn();
      }
      if (!all || partitionResult.length > 0) results.push({ topic, partitionResult });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: results };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      errorCode,
      replicaElectionResults: (req.topicPartitions ?? []).map(({ topic, partitions }) => ({
        topic, partitionResult: partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage: null })),
      })),
    };
  },
};
