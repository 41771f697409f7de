/**
 * Helpers for the consumer-group compatibility tests (groups-*.test.ts): group members as child
 * processes that can be SIGKILLed (kcat, the Python clients, KafkaJS in a child node), and the
 * group's assignment as the broker reports it (DescribeGroups through the KafkaJS admin client,
 * with each member's assignment decoded from Kafka's ConsumerProtocol bytes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AssignerProtocol, type Admin } from 'kafkajs';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { DEBIAN_PYTHON, REPO_ROOT } from './kit.js';

type TestLike = Pick<TestContext, 'after'>;

export const PY_MEMBER = join(REPO_ROOT, 'test/compat/py/group_member.py');

/** The kit's poll (kit.ts), here too since every group test waits with it. */
export { waitFor } from './kit.js';

export interface MemberProcess {
  name: string;
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr(): string;
  /** SIGKILL (no LeaveGroup) by default, and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a long-running member process; it is SIGKILLed by PID in t.after if still running. */
export function spawnMember(t: TestLike, name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): MemberProcess {
  const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid!, signal);
    await exited;
  };
  t.after(() => kill('SIGKILL'));
  return { name, child, lines, stderr: () => err, kill };
}

/**
 * A KafkaJS consumer in a child node process, so that it can be SIGKILLed like the others. It
 * prints `ASSIGNED p,p,...` on every GROUP_JOIN and `RECORD p offset` per record.
 * SESSION_TIMEOUT_MS in its environment sets the session timeout (6000 by default).
 */
const KAFKAJS_MEMBER = `
import kafkajs from 'kafkajs';
const { Kafka, logLevel } = kafkajs;
const { BOOTSTRAP, GROUP, TOPIC, SESSION_TIMEOUT_MS } = process.env;
const kafka = new Kafka({ clientId: 'kafkajs-member', brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: Number(SESSION_TIMEOUT_MS ?? 6000), heartbeatInterval: 1000, rebalanceTimeout: 20000, maxWaitTimeInMs: 500 });
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const mine = (e.payload.memberAssignment[TOPIC] ?? []).slice().sort((a, b) => a - b);
  process.stdout.write('ASSIGNED ' + mine.join(',') + '\\n');
});
await consumer.connect();
await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => {
  process.stdout.write('RECORD ' + partition + ' ' + message.offset + '\\n');
} });
`;

export type GroupClient = 'kcat' | 'confluent' | 'kafka-python' | 'kafkajs';

/**
 * Starts one member of `group` on `topic` with the given client; `instanceId` makes it static;
 * `strategy` sets librdkafka's partition.assignment.strategy (confluent-kafka-python only).
 * `env.SESSION_TIMEOUT_MS` sets every client's session timeout (6000 by default, Kafka's
 * smallest by default; the test brokers allow 1000 and up, test/compat/kit.ts).
 */
export function startMember(t: TestLike, client: GroupClient, name: string, bootstrap: string, group: string, topic: string, instanceId?: string, strategy?: string, env: NodeJS.ProcessEnv = {}): MemberProcess {
  switch (client) {
    case 'kcat': {
      const args = ['-b', bootstrap, '-G', group, topic, '-q', '-u',
        '-X', `session.timeout.ms=${env['SESSION_TIMEOUT_MS'] ?? 6000}`, '-X', 'heartbeat.interval.ms=1000', '-X', 'auto.offset.reset=earliest',
        '-X', 'enable.auto.commit=false', '-f', 'RECORD %p %o\\n'];
      if (instanceId !== undefined) args.push('-X', `group.instance.id=${instanceId}`);
      return spawnMember(t, name, 'kcat', args);
    }
    case 'confluent':
    case 'kafka-python':
      return spawnMember(t, name, DEBIAN_PYTHON, ['-u', PY_MEMBER, client, bootstrap, group, topic, instanceId ?? '-', ...(strategy === undefined ? [] : [strategy])], env);
    case 'kafkajs':
      return spawnMember(t, name, process.execPath, ['--input-type=module', '-e', KAFKAJS_MEMBER], { ...env, BOOTSTRAP: bootstrap, GROUP: group, TOPIC: topic });
  }
}

export interface DescribedMember {
  memberId: string;
  clientId: string;
  partitions: number[];
}

export interface DescribedGroup {
  state: string;
  protocol: string;
  protocolType: string;
  members: DescribedMember[];
}

/** DescribeGroups through KafkaJS, each member's assignment decoded to its partitions of `topic`. */
export async function describeGroup(admin: Admin, groupId: string, topic: string): Promise<DescribedGroup> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0]!;
  const members = g.members.map((m) => {
    const decoded = m.memberAssignment.length === 0 ? null : AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
    const partitions = [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
    return { memberId: m.memberId, clientId: m.clientId, partitions };
  });
  return { state: g.state, protocol: g.protocol, protocolType: g.protocolType, members };
}

/**
 * True when the group is Stable with `memberCount` members, every partition 0..n-1 assigned to
 * exactly one of them, and (when `everyMemberBusy`) no member left without a partition.
 */
export function isBalanced(g: DescribedGroup, memberCount: number, partitionCount: number, everyMemberBusy = true): boolean {
  if (g.state !== 'Stable' || g.members.length !== memberCount) return false;
  const all = g.members.flatMap((m) => m.partitions).sort((a, b) => a - b);
  if (all.length !== partitionCount || all.some((p, i) => p !== i)) return false;
  return !everyMemberBusy || g.members.every((m) => m.partitions.length > 0);
}

export function summarize(g: DescribedGroup | undefined): string {
  if (g === undefined) return 'nothing';
  return `${g.state} ${g.members.map((m) => `${m.clientId}/${m.memberId.slice(-6)}:[${m.partitions.join(',')}]`).join(' ')}`;
}

// ------------------------------------------------------------------ raw-protocol members

/** Kafka error codes the raw member reacts to. */
const MEMBER_ID_REQUIRED = 79;
const REBALANCE_IN_PROGRESS = 27;

/**
 * A lightweight classic-protocol consumer member on its own connection (as a real client has):
 * JoinGroup v5 (MEMBER_ID_REQUIRED handshake), SyncGroup v3 (the leader assigns one slot per
 * member), Heartbeat v3 every `heartbeatIntervalMs` while stable, and a rejoin whenever a
 * heartbeat or sync says the group is rebalancing. It records every heartbeat's latency and
 * any unexpected error, so a test can tell whether heartbeats kept up.
 */
export class RawMember {
  memberId = '';
  generationId = -1;
  /** Member count the leader saw in the last generation this member synced (leader only). */
  leaderSawMembers = 0;
  stable = false;
  stopped = false;
  readonly heartbeatLatenciesMs: number[] = [];
  readonly unexpected: string[] = [];
  private joining: Promise<void> | null = null;
  private heartbeating: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly client: RawClient,
    readonly groupId: string,
    private readonly opts: { sessionTimeoutMs: number; rebalanceTimeoutMs: number; heartbeatIntervalMs: number; onStable?: (m: RawMember) => void },
  ) {}

  static async open(port: number, groupId: string, opts: RawMember['opts']): Promise<RawMember> {
    return new RawMember(await RawClient.open(port), groupId, opts);
  }

  /** Joins (and rejoins until it is synced); the heartbeat loop then keeps the member alive. */
  rejoin(): Promise<void> {
    this.stable = false;
    this.joining ??= this.joinLoop().catch((e: Error) => this.failed(e)).finally(() => { this.joining = null; });
    return this.joining;
  }

  private async joinLoop(): Promise<void> {
    const metadata = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['scale'], userData: Buffer.alloc(0) });
    while (!this.stopped) {
      const join = await this.client.request('JoinGroup', 5, {
        groupId: this.groupId, sessionTimeoutMs: this.opts.sessionTimeoutMs, rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs,
        memberId: this.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata }],
      }, { timeoutMs: this.opts.rebalanceTimeoutMs + 10_000 });
      if (join.errorCode === MEMBER_ID_REQUIRED) { this.memberId = join.memberId; continue; }
      if (join.errorCode === REBALANCE_IN_PROGRESS) continue;
      if (join.errorCode !== 0) { this.unexpected.push(`JoinGroup ${join.errorCode}`); this.memberId = ''; continue; }
      this.generationId = join.generationId;
      const isLeader = join.leader === this.memberId;
      const assignments = isLeader
        ? join.members.map((m, i) => ({ memberId: m.memberId, assignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { scale: [i] }, userData: Buffer.alloc(0) }) }))
        : [];
      const sync = await this.client.request('SyncGroup', 3, { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null, assignments }, { timeoutMs: this.opts.rebalanceTimeoutMs + 10_000 });
      if (sync.errorCode === REBALANCE_IN_PROGRESS || sync.errorCode === 22 /* ILLEGAL_GENERATION */) continue;
      if (sync.errorCode !== 0) { this.unexpected.push(`SyncGroup ${sync.errorCode}`); continue; }
      if (isLeader) this.leaderSawMembers = join.members.length;
      this.stable = true;
      this.opts.onStable?.(this);
      this.scheduleHeartbeat();
      return;
    }
  }

  /** A request failed outright (timeout, connection lost): expected only after close(). */
  private failed(e: Error): void {
    if (!this.stopped) this.unexpected.push(`request failed: ${e.message}`);
  }

  private scheduleHeartbeat(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.heartbeating = this.heartbeat().catch((e: Error) => this.failed(e)).finally(() => { this.heartbeating = null; });
    }, this.opts.heartbeatIntervalMs);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped || this.joining !== null) return;
    const t0 = performance.now();
    const r = await this.client.request('Heartbeat', 3, { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null }, { timeoutMs: 30_000 });
    this.heartbeatLatenciesMs.push(performance.now() - t0);
    if (r.errorCode === 0) return this.scheduleHeartbeat();
    if (r.errorCode !== REBALANCE_IN_PROGRESS) this.unexpected.push(`Heartbeat ${r.errorCode}`);
    await this.rejoin();
  }

  async leave(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.heartbeating;
    await this.joining;
    await this.client.request('LeaveGroup', 3, { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: null }] });
    this.client.close();
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.client.close();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
