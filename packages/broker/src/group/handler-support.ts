/**
 * What the group handlers need from the broker besides its group coordinator
 * (`ctx.broker.groupCoordinator`): this broker's address as the client reached it, and
 * whether a partition exists.
 */
import type { RequestContext } from '../handlers/registry.js';

/** This broker as seen through the listener the request arrived on (Kafka answers per listener). */
export function coordinatorNode(ctx: RequestContext): { nodeId: number; host: string; port: number } | undefined {
  const endpoints = ctx.broker.advertisedEndpoints;
  const endpoint = endpoints.find((e) => e.listener === ctx.connection.listenerName) ?? endpoints[0];
  if (endpoint === undefined) return undefined;
  return { nodeId: ctx.broker.nodeId, host: endpoint.host, port: endpoint.port };
}

/** Whether a topic partition exists in the cluster metadata (OffsetCommit checks this, as Kafka does). */
export function partitionExists(ctx: RequestContext, topic: string, partition: number): boolean {
  const t = ctx.broker.metadata.topic(topic);
  return t !== undefined && partition >= 0 && partition < t.partitions.length;
}
