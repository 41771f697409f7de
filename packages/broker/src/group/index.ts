// Public surface of the classic group coordinator (re-exported by @tributary/broker).
export { GroupCoordinator, CLASSIC_GROUP_TYPE } from './coordinator.js';
export type { GroupCoordinatorOptions, DescribedGroup, DescribedGroupMember, ListedGroup } from './coordinator.js';
export { defaultGroupCoordinatorConfig, NEW_MEMBER_JOIN_TIMEOUT_MS } from './config.js';
export type { GroupCoordinatorConfig } from './config.js';
export type { CoordinatorLog, CoordinatorLogRecord } from './coordinator-log.js';
export { systemScheduler } from './scheduler.js';
export type { Scheduler } from './scheduler.js';
export { GroupState } from './group-state.js';
export type { GroupStateName } from './group-state.js';
export { partitionForGroup, javaStringHashCode } from './partition-for.js';
export { parseSubscriptionTopics, CONSUMER_PROTOCOL_TYPE } from './consumer-protocol.js';
export * from './records.js';
export type { GroupProtocol, JoinGroupResult, JoinGroupResultMember, SyncGroupResult } from './member.js';
export type { JoinGroupParams, SyncGroupParams, HeartbeatParams, LeaveGroupMember, LeaveGroupResult } from './membership.js';
export type {
  OffsetCommitParams,
  OffsetCommitPartitionParams,
  OffsetFetchGroupResult,
  FetchedPartition,
  OffsetDeleteResult,
  PartitionErrors,
} from './offset-manager.js';
export type { LoadSummary } from './group-loader.js';
