/**
 * OffsetFetch (api key 9), versions 0-9.
 *
 * Behaviour (Kafka's):
 * - v0-v7: one group (`groupId`, `topics`); v8+: several groups, each answered separately.
 * - Null topics (v2+) ask for every partition the group has offsets for.
 * - A partition without a committed offset answers offset -1, metadata "", error NONE; so
 *   does a group that does not exist.
 * - v7+ RequireStable: a partition with a commit still being written answers
 *   UNSTABLE_OFFSET_COMMIT (the client retries) instead of a possibly stale offset.
 * - Group-level errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...): top-level error
 *   code in v2-v7, per-group in v8+, and repeated on every requested partition in v0-v1
 *   (which have no top-level error).
 * - v5+: the committed leader epoch.
 *
 * - Authorization (Kafka's): DESCRIBE on the group, else GROUP_AUTHORIZATION_FAILED as a
 *   group-level error; a requested topic without DESCRIBE answers its partitions
 *   TOPIC_AUTHORIZATION_FAILED; asking for all topics leaves such topics out.
 *
 * Deliberate difference: Kafka serves v0 from ZooKeeper; here v0 reads the coordinator's
 * offsets like v1+.
 */
import { ApiKey, ErrorCode, type OffsetFetchResponse, type OffsetFetchResponsePartition } from '@tributary/protocol';
import type { OffsetFetchGroupResult } from '../group/offset-manager.js';
import type { Handler, RequestContext } from './registry.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

type Topics = { name: string; partitionIndexes: number[] }[] | null;

function groupError(groupId: string, topics: Topics, errorCode: number): OffsetFetchGroupResult {
  return {
    groupId,
    errorCode,
    topics: (topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE })),
    })),
  };
}

function toSingleGroupResponse(g: OffsetFetchGroupResult, version: number): OffsetFetchResponse {
  const failed = g.errorCode !== ErrorCode.NONE;
  return {
    throttleTimeMs: 0,
    errorCode: g.errorCode,
    topics: g.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map(
        (p): OffsetFetchResponsePartition =>
          // v0-v1 have no top-level error: the group's error goes on every partition.
          version < 2 && failed
            ? { partitionIndex: p.partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: g.errorCode }
            : { ...p },
      ),
    })),
  };
}

function authorizedFetch(ctx: RequestContext, groupId: string, topics: Topics, fetch: (topics: Topics) => OffsetFetchGroupResult): OffsetFetchGroupResult {
  if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) return groupError(groupId, topics, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  const describable = (name: string) => authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name);
  if (topics === null) {
    const r = fetch(null);
    return { ...r, topics: r.topics.filter((t) => describable(t.name)) };
  }
  const denied = topics.filter((t) => !describable(t.name));
  const r = fetch(denied.length === 0 ? topics : topics.filter((t) => !denied.includes(t)));
  if (r.errorCode !== ErrorCode.NONE || denied.length === 0) return r;
  return {
    ...r,
    topics: [...r.topics, ...denied.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
    }))],
  };
}

export const offsetFetchHandler: Handler<'OffsetFetch'> = {
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 9,

  handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const coordinator = ctx.broker.groupCoordinator;
    const requireStable = req.requireStable ?? false;
    const fetch = (groupId: string, topics: Topics): OffsetFetchGroupResult => {
      if (!ctx.broker.authorizer) return coordinator.fetchOffsets(groupId, topics, requireStable);
      return authorizedFetch(ctx, groupId, topics, (allowed) => coordinator.fetchOffsets(groupId, allowed, requireStable));
    };
    if (version >= 8) {
      return { throttleTimeMs: 0, groups: (req.groups ?? []).map((g) => fetch(g.groupId, g.topics)) };
    }
    // Null topics ("all") exist from v2; a v0/v1 request always lists its topics.
    const topics = req.topics === undefined ? [] : req.topics;
    const g = fetch(req.groupId ?? '', version < 2 && topics === null ? [] : topics);
    if (g.errorCode !== ErrorCode.NONE && version >= 2) return { throttleTimeMs: 0, errorCode: g.errorCode, topics: [] };
    return toSingleGroupResponse(version < 2 && g.errorCode !== ErrorCode.NONE ? groupError(g.groupId, topics, g.errorCode) : g, version);
  },

  errorResponse(req, errorCode, ctx) {
    const version = ctx.header.apiVersion;
    if (version >= 8) return { throttleTimeMs: 0, groups: (req.groups ?? []).map((g) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    if (version >= 2) return { throttleTimeMs: 0, errorCode, topics: [] };
    return toSingleGroupResponse(groupError(req.groupId ?? '', req.topics ?? [], errorCode), version);
  },
};
