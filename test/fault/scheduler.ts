/**
 * A seeded, reproducible fault schedule: the same seed and options give the same list of
 * faults, so a failing run is replayed with TRIBUTARY_SEED=<seed>. The schedule is data
 * (what, to whom, when, for how long); the test executes it against the cluster.
 *
 * Targets are named by role when the role is what matters ("the leader of partition 1")
 * and resolved when the fault fires, since leadership moves during a run.
 */
import { seededRandom } from '../compat/checker.js';

export type FaultKind =
  /** SIGKILL, then restart on the same data directory after `downMs`. */
  | 'kill'
  /** SIGSTOP, then SIGCONT after `downMs` (a GC pause, a stuck disk, a frozen VM). */
  | 'pause'
  /** Network: the broker cut from every other broker and from etcd, both ways (clients still reach it). */
  | 'isolate'
  /** Network: the broker cut from etcd only (its lease cannot be kept alive). */
  | 'isolate-etcd'
  /** Network: the broker cut from the other brokers only, both ways; etcd still reachable. */
  | 'partition-brokers'
  /** Network, one way: nothing the broker sends to other brokers arrives (requests out, responses back); what they send it does. */
  | 'one-way'
  /** etcd: SIGKILL the member named by `target.etcd`, restart it after `downMs`. */
  | 'etcd-kill'
  /** etcd: SIGSTOP the member named by `target.etcd`, SIGCONT after `downMs`. */
  | 'etcd-pause'
  /** Disk: SIGKILL, cut the tail of every active segment of the workload's topic on its disk, restart. */
  | 'truncate'
  /** Disk: fill the broker's (tmpfs) log directory for `downMs`, then free it (the broker must stay up: docs/compatibility.md). */
  | 'disk-full'
  /** Clock: the broker's wall clock jumps by `skewMs` for `downMs`, then back. */
  | 'clock'
  /** Disk: the broker's fsyncs take `slowMs` longer and its writes `slowMs / SLOW_WRITE_DIVISOR` longer for `downMs` (slow-disk.ts). */
  | 'slow-disk';

export const ALL_KINDS: readonly FaultKind[] = ['kill', 'pause', 'isolate', 'isolate-etcd', 'partition-brokers', 'one-way', 'etcd-kill', 'etcd-pause', 'truncate', 'disk-full', 'clock', 'slow-disk'];
/** Kinds that act on a broker (the others act on etcd). */
export const BROKER_KINDS: readonly FaultKind[] = ALL_KINDS.filter((k) => !k.startsWith('etcd-'));

export interface Fault {
  /** Index in the schedule, for the report. */
  readonly n: number;
  readonly kind: FaultKind;
  /** The leader of this partition at the moment the fault fires, a broker by node id, or an etcd member by role. */
  readonly target: { readonly leaderOf: number } | { readonly nodeId: number } | { readonly etcd: 'leader' | 'follower' };
  /** 'clock' only: the jump, ± ms. */
  readonly skewMs?: number;
  /** 'slow-disk' only: how much longer each fsync takes, ms. */
  readonly slowMs?: number;
  /** Quiet time before the fault fires, measured from the previous fault's healing. */
  readonly delayMs: number;
  /** How long the broker stays killed or paused. */
  readonly downMs: number;
}

export interface ScheduleOptions {
  readonly faults: number;
  readonly brokers: number;
  readonly partitions: number;
  /** Allowed kinds; the first fault is always a SIGKILL of a partition leader. */
  readonly kinds?: readonly FaultKind[];
  /**
   * After the first fault (a kill), every other allowed kind once (in a seeded order) before the random
   * choice: a short schedule then still covers every kind.
   */
  readonly coverKinds?: boolean;
  /** The only broker whose disk can be filled ('disk-full' targets it; without it, no 'disk-full'). */
  readonly tmpfsNodeId?: number;
  readonly delayMs?: readonly [number, number];
  readonly downMs?: readonly [number, number];
}

const DEFAULT_DELAY_MS: readonly [number, number] = [1500, 4000];
const DEFAULT_DOWN_MS: readonly [number, number] = [1000, 6000];

export function faultSchedule(seed: number, opts: ScheduleOptions): Fault[] {
  const random = seededRandom(seed);
  const between = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(random() * (hi - lo + 1));
  const kinds = (opts.kinds ?? ['kill', 'pause']).filter((k) => k !== 'disk-full' || opts.tmpfsNodeId !== undefined);
  const cover: FaultKind[] = [];
  if (opts.coverKinds === true) {
    // The first fault is a kill already.
    const rest = kinds.filter((k) => k !== 'kill');
    while (rest.length > 0) cover.push(rest.splice(Math.floor(random() * rest.length), 1)[0]!);
  }
  // etcd faults alternate between the raft leader and a follower (from a seeded start), so
  // even two of them hit both roles. No draw unless etcd kinds are allowed: a schedule of
  // other kinds stays what it was for its seed.
  let etcdFaults = kinds.some((k) => k.startsWith('etcd-')) && random() < 0.5 ? 1 : 0;
  const out: Fault[] = [];
  for (let n = 0; n < opts.faults; n++) {
    const kind: FaultKind = n === 0 ? 'kill' : cover.shift() ?? kinds[Math.floor(random() * kinds.length)]!;
    const byRole = n === 0 || random() < 0.6;
    let target: Fault['target'] = byRole
      ? { leaderOf: Math.floor(random() * opts.partitions) }
      : { nodeId: 1 + Math.floor(random() * opts.brokers) };
    if (kind === 'etcd-kill' || kind === 'etcd-pause') target = { etcd: etcdFaults++ % 2 === 0 ? 'leader' : 'follower' };
    if (kind === 'disk-full') target = { nodeId: opts.tmpfsNodeId! };
    const fault: Fault = { n, kind, target, delayMs: between(opts.delayMs ?? DEFAULT_DELAY_MS), downMs: between(opts.downMs ?? DEFAULT_DOWN_MS) };
    out.push(kind === 'clock' ? { ...fault, skewMs: (random() < 0.5 ? -1 : 1) * CLOCK_JUMP_MS } : kind === 'slow-disk' ? { ...fault, slowMs: between(SLOW_FSYNC_MS) } : fault);
  }
  return out;
}

/**
 * A slow disk's extra fsync latency: a saturated or failing device (a healthy SSD's fsync takes
 * ~1 ms, a busy disk's 10-100 ms; hundreds of ms is what a dying disk or an overloaded SAN shows).
 */
export const SLOW_FSYNC_MS: readonly [number, number] = [200, 500];
/** A slow disk's writes are delayed by its fsync delay over this (200-500 ms → 4-10 ms a write: throttled write-back). */
export const SLOW_WRITE_DIVISOR = 50;

/** A clock fault's jump: an hour, the size of a time-zone mistake or a DST slip. */
export const CLOCK_JUMP_MS = 3600_000;

export function describeFault(f: Fault): string {
  const who = 'leaderOf' in f.target ? `leader of partition ${f.target.leaderOf}` : 'etcd' in f.target ? `etcd ${f.target.etcd}` : `broker ${f.target.nodeId}`;
  const skew = f.skewMs !== undefined ? ` by ${f.skewMs > 0 ? '+' : ''}${f.skewMs} ms` : f.slowMs !== undefined ? ` fsync +${f.slowMs} ms` : '';
  return `#${f.n} ${f.kind} ${who}${skew} after ${f.delayMs} ms, down ${f.downMs} ms`;
}
