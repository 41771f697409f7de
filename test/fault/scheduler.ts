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
  | 'pause';

export interface Fault {
  /** Index in the schedule, for the report. */
  readonly n: number;
  readonly kind: FaultKind;
  /** The leader of this partition at the moment the fault fires, or a broker by node id. */
  readonly target: { readonly leaderOf: number } | { readonly nodeId: number };
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
  readonly delayMs?: readonly [number, number];
  readonly downMs?: readonly [number, number];
}

const DEFAULT_DELAY_MS: readonly [number, number] = [1500, 4000];
const DEFAULT_DOWN_MS: readonly [number, number] = [1000, 6000];

export function faultSchedule(seed: number, opts: ScheduleOptions): Fault[] {
  const random = seededRandom(seed);
  const between = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(random() * (hi - lo + 1));
  const kinds = opts.kinds ?? ['kill', 'pause'];
  const out: Fault[] = [];
  for (let n = 0; n < opts.faults; n++) {
    const kind: FaultKind = n === 0 ? 'kill' : kinds[Math.floor(random() * kinds.length)]!;
    const byRole = n === 0 || random() < 0.6;
    const target = byRole
      ? { leaderOf: Math.floor(random() * opts.partitions) }
      : { nodeId: 1 + Math.floor(random() * opts.brokers) };
    out.push({ n, kind, target, delayMs: between(opts.delayMs ?? DEFAULT_DELAY_MS), downMs: between(opts.downMs ?? DEFAULT_DOWN_MS) });
  }
  return out;
}

export function describeFault(f: Fault): string {
  const who = 'leaderOf' in f.target ? `leader of partition ${f.target.leaderOf}` : `broker ${f.target.nodeId}`;
  return `#${f.n} ${f.kind} ${who} after ${f.delayMs} ms, down ${f.downMs} ms`;
}
