// Shared helpers for the group coordinator tests (not a test file itself).
import { ErrorCode } from '@tributary/protocol';
import {
  GroupCoordinator,
  type GroupCoordinatorConfig,
  type JoinGroupParams,
  type JoinGroupResult,
} from '../src/group/index.js';
import { MemoryCoordinatorLog } from './helpers/memory-coordinator-log.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';

export interface Harness {
  coordinator: GroupCoordinator;
  log: MemoryCoordinatorLog;
  clock: ManualScheduler;
}

export const TEST_CONFIG: Partial<GroupCoordinatorConfig> = {
  offsetsTopicNumPartitions: 4,
  groupInitialRebalanceDelayMs: 3_000,
};

export async function harness(config: Partial<GroupCoordinatorConfig> = {}, log = new MemoryCoordinatorLog(), clock = new ManualScheduler()): Promise<Harness> {
  const coordinator = new GroupCoordinator({ log, scheduler: clock, config: { ...TEST_CONFIG, ...config } });
  await coordinator.startup();
  return { coordinator, log, clock };
}

/** Lets resolved promises (append completions, parked responses) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** ConsumerProtocolSubscription v0: version, topics, null user data. */
export function subscription(topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])];
  const count = Buffer.alloc(4);
  count.writeInt32BE(topics.length);
  parts.push(count);
  for (const t of topics) {
    const len = Buffer.alloc(2);
    len.writeInt16BE(Buffer.byteLength(t));
    parts.push(len, Buffer.from(t));
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return Buffer.concat(parts);
}

export function joinParams(groupId: string, overrides: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    requireKnownMemberId: true,
    supportSkippingAssignment: true,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 30_000,
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['orders']) }],
    reason: null,
    ...overrides,
  };
}

/** Joins as a new dynamic member, doing the MEMBER_ID_REQUIRED round trip; returns the parked join. */
export async function startJoin(h: Harness, groupId: string, overrides: Partial<JoinGroupParams> = {}): Promise<{ memberId: string; join: Promise<JoinGroupResult> }> {
  let memberId = overrides.memberId ?? '';
  if (memberId === '' && (overrides.groupInstanceId ?? null) === null && (overrides.requireKnownMemberId ?? true)) {
    const first = await h.coordinator.joinGroup(joinParams(groupId, overrides));
    if (first.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) throw new Error(`expected MEMBER_ID_REQUIRED, got ${first.errorCode}`);
    memberId = first.memberId;
  }
  const join = h.coordinator.joinGroup(joinParams(groupId, { ...overrides, memberId }));
  return { memberId, join };
}

/** Runs a complete rebalance for `count` new dynamic members; returns their join results. */
export async function formGroup(h: Harness, groupId: string, count: number, overrides: Partial<JoinGroupParams> = {}): Promise<JoinGroupResult[]> {
  const joins = [];
  for (let i = 0; i < count; i++) joins.push(await startJoin(h, groupId, { clientId: `c${i}`, ...overrides }));
  // Members joining during the initial delay extend it once more (InitialDelayedJoin).
  h.clock.advance(2 * h.coordinator.config.groupInitialRebalanceDelayMs);
  await flush();
  const results = await Promise.all(joins.map((j) => j.join));
  const leader = results.find((r) => r.leader === r.memberId)!;
  const syncs = results.map((r) =>
    h.coordinator.syncGroup({
      groupId,
      generationId: r.generationId,
      memberId: r.memberId,
      groupInstanceId: null,
      protocolType: overrides.protocolType ?? 'consumer',
      protocolName: r.protocolName,
      assignments: r === leader ? results.map((m) => ({ memberId: m.memberId, assignment: Buffer.from(`assign-${m.memberId}`) })) : [],
    }),
  );
  await flush();
  for (const s of await Promise.all(syncs)) if (s.errorCode !== ErrorCode.NONE) throw new Error(`sync failed with ${s.errorCode}`);
  return results;
}
