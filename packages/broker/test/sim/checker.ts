/**
 * The simulation's invariants, checked after every event (cheap ones) and whenever a
 * broker becomes leader and at the end (ones that read logs):
 *
 * 1. Every acknowledged record (acks=all, min.insync.replicas=2) is in every later leader's
 *    log at its offset, and in every replica's log at the end.
 * 2. A leader's high watermark never moves back during its tenure: one leader epoch in one
 *    incarnation of the broker. (Across a restart it can, in the same epoch: a broker that
 *    restarts within its session keeps its leadership and epoch and starts from its
 *    checkpointed high watermark. Kafka fences a new incarnation and elects again; see
 *    docs/reliability.md, "Deterministic simulation".)
 * 3. No replica exposes an offset that is later truncated: a replica's log end offset never
 *    falls below the highest high watermark it has shown (in any incarnation).
 * 4. Replicas agree below their high watermarks: each offset below some replica's high
 *    watermark ("committed") holds the same record on every replica that has it.
 * 5. Epochs are monotonic: the leader epoch a broker follows never decreases; each leader
 *    epoch cache has strictly increasing epochs with non-decreasing start offsets.
 * A broken invariant throws an InvariantViolation; the runner prints the seed and trace.
 */
import { decodeBatchSync, forEachBatch } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import type { SimBroker } from './broker-model.js';

export class InvariantViolation extends Error {}

interface ReplicaWatch {
  /** Highest high watermark this replica has shown (across restarts). */
  exposedHighWatermark: number;
  /** Offsets below this were compared with `committed`. */
  verifiedTo: number;
  lastLeaderEpoch: number;
  /** The leader tenure last seen: incarnation and leader epoch (see invariant 2). */
  tenure: string;
  tenureHighWatermark: number;
}

/** The record values of `log` in [from, to), by offset. */
export function readValues(log: Log, from: number, to: number): Map<number, string> {
  const out = new Map<number, string>();
  let offset = Math.max(from, log.logStartOffset);
  while (offset < to) {
    const read = log.read(offset, 1 << 20, { maxOffset: to, minOneBatch: true });
    if (read.kind !== 'ok' || read.records.length === 0) break;
    for (const buf of read.records) {
      forEachBatch(buf, (at) => {
        for (const r of decodeBatchSync(buf, at).records) {
          if (r.offset >= from && r.offset < to) out.set(r.offset, r.value?.toString() ?? '');
        }
      });
    }
    if (read.nextFetchOffset <= offset) break;
    offset = read.nextFetchOffset;
  }
  return out;
}

export class Checker {
  /** Acknowledged records: offset -> value. */
  readonly acked = new Map<number, string>();
  /** Records some replica has shown below its high watermark: offset -> value. */
  readonly committed = new Map<number, string>();
  private readonly watches = new Map<number, ReplicaWatch>();
  checks = 0;

  constructor(private readonly trace: (line: string) => void) {}

  private fail(message: string): never {
    this.trace(`VIOLATION: ${message}`);
    throw new InvariantViolation(message);
  }

  private watchOf(id: number): ReplicaWatch {
    let w = this.watches.get(id);
    if (w === undefined) {
      w = { exposedHighWatermark: 0, verifiedTo: 0, lastLeaderEpoch: -1, tenure: '', tenureHighWatermark: -1 };
      this.watches.set(id, w);
    }
    return w;
  }

  /** An acks=all produce was answered NONE at `baseOffset` for `values`. */
  onAcked(baseOffset: number, values: readonly string[], by: number): void {
    this.trace(`ack ${values[0]}..(${values.length}) at ${baseOffset} from broker ${by}`);
    values.forEach((value, i) => {
      const offset = baseOffset + i;
      const earlier = this.acked.get(offset);
      if (earlier !== undefined && earlier !== value) this.fail(`offset ${offset} acknowledged twice: ${earlier} and ${value}`);
      this.acked.set(offset, value);
    });
  }

  /** A broker became leader: it must hold every acknowledged and every committed record. */
  onBecameLeader(broker: SimBroker): void {
    const log = broker.log!;
    this.checkEpochCache(broker.id, log);
    const values = readValues(log, 0, log.logEndOffset);
    for (const [what, records] of [['acknowledged', this.acked], ['committed', this.committed]] as const) {
      for (const [offset, value] of records) {
        const held = values.get(offset);
        if (held !== value) this.fail(`broker ${broker.id} became leader in epoch ${broker.partition!.leaderEpoch} without the ${what} record ${value} at offset ${offset} (it holds ${held ?? 'nothing'}; log end ${log.logEndOffset})`);
      }
    }
  }

  /** After every event: the cheap invariants, and newly exposed offsets against `committed`. */
  afterEvent(brokers: Iterable<SimBroker>): void {
    this.checks++;
    for (const b of brokers) {
      const p = b.partition;
      if (p === undefined) continue;
      const log = p.log;
      if (log.isClosed || log.isOffline) continue;
      const w = this.watchOf(b.id);
      const epoch = p.leaderEpoch;
      if (epoch < w.lastLeaderEpoch) this.fail(`broker ${b.id} went back from leader epoch ${w.lastLeaderEpoch} to ${epoch}`);
      w.lastLeaderEpoch = epoch;
      const hw = log.highWatermark;
      const leo = log.logEndOffset;
      if (p.role === 'leader') {
        const tenure = `${b.incarnation}/${epoch}`;
        if (w.tenure === tenure && hw < w.tenureHighWatermark) this.fail(`leader ${b.id} moved its high watermark back from ${w.tenureHighWatermark} to ${hw} in epoch ${epoch}`);
        w.tenure = tenure;
        w.tenureHighWatermark = hw;
      }
      if (leo < w.exposedHighWatermark) this.fail(`broker ${b.id} truncated to ${leo}, below the high watermark ${w.exposedHighWatermark} it had exposed`);
      if (hw > w.exposedHighWatermark) w.exposedHighWatermark = hw;
      if (w.verifiedTo > leo) w.verifiedTo = leo;
      if (hw > w.verifiedTo) {
        this.compare(b.id, readValues(log, w.verifiedTo, hw), w.verifiedTo, hw);
        w.verifiedTo = hw;
      }
    }
  }

  private compare(id: number, values: Map<number, string>, from: number, to: number): void {
    for (let offset = from; offset < to; offset++) {
      const value = values.get(offset);
      if (value === undefined) continue;
      const known = this.committed.get(offset);
      if (known === undefined) this.committed.set(offset, value);
      else if (known !== value) this.fail(`broker ${id} exposes ${value} at offset ${offset} where another replica exposed ${known}`);
      const acked = this.acked.get(offset);
      if (acked !== undefined && acked !== value) this.fail(`broker ${id} exposes ${value} at offset ${offset}, acknowledged as ${acked}`);
    }
  }

  checkEpochCache(id: number, log: Log): void {
    const entries = log.leaderEpochCache.epochEntries();
    for (let i = 1; i < entries.length; i++) {
      const a = entries[i - 1]!;
      const b = entries[i]!;
      if (!(a.epoch < b.epoch) || !(a.startOffset <= b.startOffset)) this.fail(`broker ${id} leader epoch cache out of order: ${JSON.stringify(entries)}`);
    }
  }

  /** At the end, every broker up and healed: every replica holds every acknowledged record; logs agree below the high watermarks. */
  final(brokers: readonly SimBroker[]): void {
    let reference: Map<number, string> | undefined;
    let referenceHw = 0;
    for (const b of brokers) {
      const log = b.log;
      if (log === undefined) this.fail(`broker ${b.id} is down at the end`);
      this.checkEpochCache(b.id, log);
      const values = readValues(log, 0, log.logEndOffset);
      for (const [offset, value] of this.acked) {
        if (values.get(offset) !== value) this.fail(`at the end broker ${b.id} lacks acknowledged ${value} at offset ${offset} (holds ${values.get(offset) ?? 'nothing'})`);
      }
      if (reference === undefined) {
        reference = values;
        referenceHw = log.highWatermark;
        continue;
      }
      const upTo = Math.min(referenceHw, log.highWatermark);
      for (let offset = 0; offset < upTo; offset++) {
        if (reference.get(offset) !== values.get(offset)) this.fail(`at the end broker ${b.id} holds ${values.get(offset)} at offset ${offset}, broker ${brokers[0]!.id} ${reference.get(offset)}`);
      }
    }
  }
}
