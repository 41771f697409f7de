/**
 * Deterministic simulation of one partition's replication (issue #16), after TigerBeetle's
 * VOPR and Kafka's Raft simulation tests: a seed drives everything, time is simulated, and
 * a failing seed replays exactly (`runSeed(seed, { traceAll: true })`, or the command the
 * failure prints).
 *
 * The world: `config.brokers` replicas of one partition (broker-model.ts, the REAL Partition
 * and log), the controller and metadata store (controller-model.ts), a simulated network
 * (network.ts), an acks=all producer (below), and a nemesis that crashes and restarts
 * brokers, pauses them (a GC pause: a leader that wakes up still believing it leads), cuts
 * links (whole-broker isolation, broker-controller only, one-way), and asks for
 * preferred-leader elections. After `config.events` events the nemesis stops, every
 * link heals, every broker comes back, and the run settles for `config.settleMs` before the
 * final checks (checker.ts).
 *
 * Determinism: the only randomness is the seed's Prng; the only clock is the Scheduler's
 * (handed to LogManager and Partition); promises the real code creates (acks=all waits,
 * AlterPartition answers) settle within the event that resolved them, because the loop
 * drains the microtask queue after each event.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import type { PartitionState, TopicMetadata } from '../../src/metadata/metadata-store.js';
import { SimBroker, TOPIC } from './broker-model.js';
import { Checker, InvariantViolation } from './checker.js';
import { CONTROLLER_ID, ControllerModel } from './controller-model.js';
import { Network, type NetworkConfig } from './network.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';

export interface SimConfig {
  readonly brokers: number;
  /** Events before the nemesis and the producer stop (the settle phase is not counted). */
  readonly events: number;
  readonly settleMs: number;
  readonly minInsyncReplicas: number;
  readonly segmentBytes: number;
  readonly heartbeatMs: number;
  /** broker.session.timeout.ms (the lease TTL), scaled down like every period here. */
  readonly sessionTimeoutMs: number;
  readonly replicaLagTimeMaxMs: number;
  readonly replicaFetchWaitMaxMs: number;
  readonly replicaFetchBackoffMs: number;
  readonly replicaSocketTimeoutMs: number;
  readonly replicaFetchMaxBytes: number;
  readonly highWatermarkCheckpointMs: number;
  readonly metadataRequestTimeoutMs: number;
  readonly produceTimeoutMs: number;
  readonly uncleanLeaderElection: boolean;
  /** Check invariant 2 per leader epoch across restarts, as Kafka keeps it (checker.ts). */
  readonly tenurePerEpoch: boolean;
  readonly network: NetworkConfig;
}

/**
 * Kafka's periods scaled down about tenfold (session 9 s -> 900 ms, lag 30 s -> 1 s, fetch
 * wait 500 ms -> 50 ms), keeping their ratios, so that a run of a few thousand events sees
 * many leases expire and many ISR changes.
 */
export const DEFAULT_CONFIG: SimConfig = {
  brokers: 3,
  events: 2000,
  settleMs: 5000,
  minInsyncReplicas: 2,
  segmentBytes: 4096,
  heartbeatMs: 150,
  sessionTimeoutMs: 900,
  replicaLagTimeMaxMs: 1000,
  replicaFetchWaitMaxMs: 50,
  replicaFetchBackoffMs: 100,
  replicaSocketTimeoutMs: 300,
  replicaFetchMaxBytes: 1024,
  highWatermarkCheckpointMs: 1000,
  metadataRequestTimeoutMs: 500,
  produceTimeoutMs: 1500,
  uncleanLeaderElection: false,
  tenurePerEpoch: true,
  network: { minDelayMs: 1, maxDelayMs: 8, spikeRate: 0.03, spikeMs: 300, dropRate: 0.01 },
};

const PRODUCER_ID = 100;

/** Microtask turns after each event: deeper than the longest promise chain of an acks=all answer (about 6). */
const MICROTASK_TURNS = 16;

export class World {
  readonly sched = new Scheduler();
  readonly rng: Prng;
  readonly net: Network;
  readonly controller: ControllerModel;
  readonly brokers = new Map<number, SimBroker>();
  readonly checker: Checker;
  readonly lines: string[] = [];
  private readonly topicId = 'AAAAAAAAAAAAAAAAAAAAAA';

  constructor(
    readonly seed: number,
    readonly config: SimConfig,
    private readonly dir: string,
    private readonly echo: boolean,
  ) {
    this.rng = new Prng(seed);
    const trace = (line: string): void => this.trace(line);
    this.net = new Network(this.sched, this.rng, config.network, trace);
    this.checker = new Checker(trace, config.tenurePerEpoch);
    const replicas = Array.from({ length: config.brokers }, (_, i) => i + 1);
    const initial: PartitionState = { partition: 0, replicas, leader: 1, leaderEpoch: 0, isr: replicas, partitionEpoch: 0 };
    const hooks = {
      trace,
      published: (state: PartitionState) => {
        for (const b of this.brokers.values()) this.net.sendOrdered(CONTROLLER_ID, b.id, 'watch', () => b.applyState(state));
      },
    };
    this.controller = new ControllerModel(initial, config.sessionTimeoutMs, hooks, config.uncleanLeaderElection);
    for (const id of replicas) this.brokers.set(id, new SimBroker(id, join(dir, `broker-${id}`), this));
  }

  trace(line: string): void {
    const text = `${String(this.sched.elapsedMs()).padStart(6)} ms  ${line}`;
    this.lines.push(text);
    if (this.echo) process.stdout.write(text + '\n');
  }

  topicOf(state: PartitionState): TopicMetadata {
    return { name: TOPIC, topicId: this.topicId, partitions: [state], configs: { 'min.insync.replicas': String(this.config.minInsyncReplicas) }, internal: false };
  }

  /** The watch catching up after a heal (etcd resumes a watch from its revision). */
  resync(): void {
    const state = this.controller.state;
    for (const b of this.brokers.values()) if (b.up) this.net.sendOrdered(CONTROLLER_ID, b.id, 'watch-resync', () => b.applyState(state));
  }
}

/** The outcome of one seed. */
export interface SeedResult {
  readonly seed: number;
  readonly events: number;
  readonly simulatedMs: number;
  readonly acked: number;
  readonly committed: number;
  readonly leaderEpoch: number;
  readonly violation?: string;
  readonly trace: readonly string[];
}

export async function runSeed(seed: number, overrides: Partial<SimConfig> = {}, options: { echo?: boolean } = {}): Promise<SeedResult> {
  const config = { ...DEFAULT_CONFIG, ...overrides };
  const dir = mkdtempSync(join(existsShm() ? '/dev/shm' : tmpdir(), `trib-sim-${seed}-`));
  const world = new World(seed, config, dir, options.echo ?? false);
  let violation: string | undefined;
  let events = 0;
  try {
    world.net.nodeUp(CONTROLLER_ID);
    world.net.nodeUp(PRODUCER_ID);
    for (const b of world.brokers.values()) {
      world.controller.registerAtStart(b.id, world.sched.now());
      await b.start(world.controller.state);
    }
    world.sched.after(0, 'lease-check', function leases() {
      world.controller.expireLeases(world.sched.now());
      world.sched.after(config.heartbeatMs, 'lease-check', leases);
    });
    const phase = { faults: true };
    startProducer(world, phase);
    startNemesis(world, phase);
    let settleUntil = Number.POSITIVE_INFINITY;
    for (;;) {
      const event = world.sched.take();
      if (event === undefined || world.sched.now() > settleUntil) break;
      await event.run();
      // The real code's promise continuations (acks=all answers, AlterPartition outcomes) run
      // now, inside this event: a few microtask turns cover their chains. (A macrotask turn
      // would also let file-system callbacks in, whose timing is not the seed's.)
      for (let i = 0; i < MICROTASK_TURNS; i++) await Promise.resolve();
      world.checker.afterEvent(world.brokers.values());
      events++;
      if (phase.faults && events >= config.events) {
        phase.faults = false;
        world.trace('settle: nemesis and producer stop, links heal, brokers restart');
        world.net.healAll();
        world.resync();
        for (const b of world.brokers.values()) if (!b.up) await restart(world, b);
        settleUntil = world.sched.now() + config.settleMs;
      }
    }
    world.checker.final([...world.brokers.values()]);
  } catch (err) {
    if (!(err instanceof InvariantViolation)) {
      world.trace(`ERROR: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
    violation = err instanceof Error ? err.message : String(err);
  } finally {
    for (const b of world.brokers.values()) b.crash();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    seed,
    events,
    simulatedMs: world.sched.elapsedMs(),
    acked: world.checker.acked.size,
    committed: world.checker.committed.size,
    leaderEpoch: world.controller.state.leaderEpoch,
    ...(violation !== undefined ? { violation } : {}),
    trace: world.lines,
  };
}

function existsShm(): boolean {
  try {
    return statSync('/dev/shm').isDirectory();
  } catch {
    return false;
  }
}

async function restart(world: World, b: SimBroker): Promise<void> {
  await b.start(world.controller.state);
}

/**
 * An acks=all producer without idempotence (every batch's values are new, so an offset's
 * record is known by its value): it sends to the leader its metadata names, a few requests
 * in flight, and on an error or a timeout refreshes its metadata from the controller.
 */
function startProducer(world: World, phase: { faults: boolean }): void {
  let seq = 0;
  let leader = world.controller.state.leader;
  let inFlight = 0;
  const send = (): void => {
    if (!phase.faults) return;
    world.sched.after(world.rng.between(5, 60), 'produce-next', send);
    if (inFlight >= 3) return;
    if (leader < 0) {
      leader = world.controller.state.leader;
      return;
    }
    const count = world.rng.between(1, 3);
    const values = Array.from({ length: count }, (_, i) => `s${world.seed}-${seq}-${i}`);
    seq++;
    const batch = encodeBatchSync({ baseOffset: 0, timestamp: world.sched.now(), records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
    const to = leader;
    let answered = false;
    inFlight++;
    const done = (): void => {
      if (answered) return;
      answered = true;
      inFlight--;
    };
    world.net.send(PRODUCER_ID, to, 'produce', () => {
      world.brokers.get(to)!.produce(batch, (r, leaderEpoch) => {
        world.net.send(to, PRODUCER_ID, 'produce-answer', () => {
          if (r.errorCode === ErrorCode.NONE) world.checker.onAcked(r.baseOffset, values, to, leaderEpoch);
          else leader = world.controller.state.leader;
          done();
        });
      });
    });
    world.sched.after(world.config.produceTimeoutMs, 'produce-timeout', () => {
      if (answered) return;
      done();
      leader = world.controller.state.leader;
    });
  };
  world.sched.after(0, 'produce-next', send);
}

/** Faults, one every 50-600 ms while the phase lasts; at most brokers - 1 down at once. */
function startNemesis(world: World, phase: { faults: boolean }): void {
  const { rng, net, sched } = world;
  const ids = [...world.brokers.keys()];
  const act = async (): Promise<void> => {
    if (!phase.faults) return;
    sched.after(rng.between(50, 600), 'nemesis', act);
    const up = ids.filter((id) => world.brokers.get(id)!.up);
    const roll = rng.int(100);
    if (roll < 22 && up.length > 1) {
      const victim = rng.pick(up);
      world.trace(`nemesis: crash broker ${victim}`);
      world.brokers.get(victim)!.crash();
      sched.after(rng.between(100, 2500), 'restart', async () => {
        const b = world.brokers.get(victim)!;
        if (b.up) return;
        world.trace(`nemesis: restart broker ${victim}`);
        await restart(world, b);
      });
    } else if (roll < 37) {
      const victim = rng.pick(ids);
      world.trace(`nemesis: isolate broker ${victim}`);
      for (const other of [CONTROLLER_ID, PRODUCER_ID, ...ids]) {
        if (other === victim) continue;
        net.cutLink(victim, other);
        net.cutLink(other, victim);
      }
    } else if (roll < 50) {
      const victim = rng.pick(ids);
      world.trace(`nemesis: cut broker ${victim} from the controller`);
      net.cutLink(victim, CONTROLLER_ID);
      net.cutLink(CONTROLLER_ID, victim);
    } else if (roll < 58) {
      const a = rng.pick(ids);
      const b = rng.pick(ids.filter((id) => id !== a));
      world.trace(`nemesis: cut link ${a} -> ${b}`);
      net.cutLink(a, b);
    } else if (roll < 67) {
      const victim = rng.pick(ids);
      const pauseMs = rng.between(200, 2500);
      world.trace(`nemesis: pause broker ${victim} for ${pauseMs} ms`);
      net.pause(victim, sched.now() + pauseMs);
    } else if (roll < 74) {
      world.trace('nemesis: preferred leader election');
      world.controller.electPreferred();
    } else if (roll < 92) {
      if (net.cutLinks.length > 0) {
        world.trace(`nemesis: heal ${net.cutLinks.join(' ')}`);
        net.healAll();
        world.resync();
      }
    }
  };
  sched.after(rng.between(100, 500), 'nemesis', act);
}
