/**
 * Fetch v16+ (KIP-951): a partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH
 * carries `currentLeader` {leaderId, leaderEpoch} from this broker's metadata, and the
 * response lists that leader's endpoint (on the listener the request came in on) in
 * `nodeEndpoints`, so the client can move to the new leader without a Metadata round
 * trip. As Kafka's KafkaApis.handleFetchRequest: earlier versions get neither (v12-15 have
 * the field but Kafka leaves it at its default), and a leader that is not a registered
 * broker is named without an endpoint.
 */
import { ErrorCode, type FetchResponse, type FetchResponseNodeEndpoint } from '@tributary/protocol';
import type { RequestContext } from './registry.js';
import { brokersFor } from './metadata.js';

const FIRST_CURRENT_LEADER_VERSION = 16;

export function attachCurrentLeaders(response: FetchResponse, version: number, ctx: RequestContext, byId: boolean): void {
  if (version < FIRST_CURRENT_LEADER_VERSION) return;
  const leaders = new Set<number>();
  const metadata = ctx.broker.metadata;
  for (const t of response.responses) {
    const topic = byId ? metadata.topicById(t.topicId ?? '') : metadata.topic(t.topic ?? '');
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER && p.errorCode !== ErrorCode.FENCED_LEADER_EPOCH) continue;
      const state = topic?.partitions[p.partitionIndex];
      p.currentLeader = { leaderId: state?.leader ?? -1, leaderEpoch: state?.leaderEpoch ?? -1 };
      if (state !== undefined && state.leader >= 0) leaders.add(state.leader);
    }
  }
  const endpoints: FetchResponseNodeEndpoint[] = [];
  if (leaders.size > 0) for (const b of brokersFor(ctx)) if (leaders.has(b.nodeId)) endpoints.push(b);
  response.nodeEndpoints = endpoints;
}
