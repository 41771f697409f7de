/**
 * The states of a classic group, named as Kafka prints them (DescribeGroups, ListGroups,
 * kafka-consumer-groups), and the transitions Kafka allows. A transition outside this table is
 * a coordinator bug, so it throws.
 *
 *   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup stored--> Stable
 *   Stable | CompletingRebalance --join, leave, expiry--> PreparingRebalance
 *   PreparingRebalance --everyone gone--> Empty
 *   any --deleted, expired, unloaded--> Dead
 */
export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const;

export type GroupStateName = (typeof GroupState)[keyof typeof GroupState];

const validPreviousStates: Record<GroupStateName, readonly GroupStateName[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export function canTransition(from: GroupStateName, to: GroupStateName): boolean {
  return validPreviousStates[to].includes(from);
}
