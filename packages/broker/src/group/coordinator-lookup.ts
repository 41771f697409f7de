/**
 * Which broker coordinates a group or a transactional id: the leader of the key's partition
 * of `__consumer_offsets` / `__transaction_state`, addressed on the listener the request
 * came in on (Kafka's KafkaApis.getCoordinator). In a single-node cluster that is always
 * this broker.
 *
 * Found by the fault suite (test/fault/): FindCoordinator used to name the broker that was
 * asked, whatever led the group's partition; the group handlers there answered
 * NOT_COORDINATOR, and librdkafka, which asks the same broker again, never joined its
 * group in a 3-broker cluster.
 */
import type { RequestContext } from '../handlers/registry.js';
import { coordinatorNode } from './handler-support.js';

export interface CoordinatorAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/**
 * The leader of `topic`/`partition` as a coordinator address, or undefined when it has no
 * leader or the leader has no endpoint on this request's listener (Kafka then answers
 * COORDINATOR_NOT_AVAILABLE and the client asks again). A topic not created yet counts as
 * led here, as before: `__consumer_offsets` exists from start-up, and the transaction
 * path checks its topic itself.
 */
export function partitionLeaderAddress(ctx: RequestContext, topic: string, partition: number): CoordinatorAddress | undefined {
  const metadata = ctx.broker.metadata.topic(topic);
  if (metadata === undefined) return coordinatorNode(ctx);
  const leader = metadata.partitions[partition]?.leader ?? -1;
  if (leader < 0) return undefined;
  if (leader === ctx.broker.nodeId) return coordinatorNode(ctx);
  const registration = ctx.broker.metadata.brokers().find((b) => b.nodeId === leader);
  const endpoint = registration?.endpoints.find((e) => e.listener === ctx.connection.listenerName);
  if (endpoint === undefined) return undefined;
  return { nodeId: leader, host: endpoint.host, port: endpoint.port };
}
