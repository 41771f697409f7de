/**
 * The simulation's invariants, checked after every event (cheap ones) and whenever a
 * broker becomes leader and at the end (ones that read logs):
 *
 * 1. Every acknowledged record (acks=all, min.insync.replicas=2) is in the log of every
 *    leader of a later leader epoch, at its offset, and in every replica's log at the end.
 * 2. A leader's high watermark never moves back during its tenure: one leader epoch, across
 *    restarts (Kafka's form: a restarted broker is fenced and never leads again in an epoch
 *    its previous incarnation led in; docs/reliability.md, "Deterministic simulation"). With
 *    `tenurePerEpoch` off, a tenure is one epoch in one incarnation (the weaker form the
 *    simulation checked before the controller fenced new incarnations).
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

/** A record value and the leader epoch in which it was acknowledged or exposed. */
interface Tagged {
  readonly value: string;
  readonly epoch: number;
}

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
  /** Acknowledged records: offset -> value, and the leader epoch of the answer. */
  readonly acked = new Map<number, Tagged>();
  /** Records some replica has shown below its high watermark: offset -> value, and the lowest leader epoch that replica was in when it did. */
  readonly committed = new Map<number, Tagged>();
  private readonly watches = new Map<number, ReplicaWatch>();
  checks = 0;

  constructor(
    private readonly trace: (line: string) => void,
    /** Kafka's invariant 2: one tenure per leader epoch, across restarts (else per incarnation and epoch). */
    private readonly tenurePerEpoch = false,
  ) {}

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
  onAcked(baseOffset: number, values: readonly string[], by: number, epoch: number): void {
    this.trace(`ack ${values[0]}..(${values.length}) at ${baseOffset} from broker ${by} in epoch ${epoch}`);
    values.forEach((value, i) => {
      const offset = baseOffset + i;
      const earlier = this.acked.get(offset);
      if (earlier !== undefined && earlier.value !== value) this.fail(`offset ${offset} acknowledged twice: ${earlier.value} and ${value}`);
      if (earlier === undefined || epoch < earlier.epoch) this.acked.set(offset, { value, epoch });
    });
  }

  /**
   * A broker became leader of epoch E: it must hold every record acknowledged or committed in
   * an epoch before E (Kafka's guarantee is by epoch, not by wall-clock order: a broker that
   * was paused may apply its election to an old epoch after newer epochs committed more).
   */
  onBecameLeader(broker: SimBroker): void {
    const log = broker.log!;
    const epoch = broker.partition!.leaderEpoch;
    this.checkEpochCache(broker.id, log);
    const values = readValues(log, 0, log.logEndOffset);
    for (const [what, records] of [['acknowledged', this.acked], ['committed', this.committed]] as const) {
      for (const [offset, record] of records) {
        if (record.epoch >= epoch) continue;
        const held = values.get(offset);
        if (held !== record.value) this.fail(`broker ${broker.id} became leader in epoch ${epoch} without the ${what} record ${record.value} (epoch ${record.epoch}) at offset ${offset} (it holds ${held ?? 'nothing'}; log end ${log.logEndOffset})`);
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
        const tenure = this.tenurePerEpoch ? `${epoch}` : `${b.incarnation}/${epoch}`;
        if (w.tenure === tenure && hw < w.tenureHighWatermark) this.fail(`leader ${b.id} moved its high watermark back from ${w.tenureHighWatermark} to ${hw} in epoch ${epoch}`);
        w.tenure = tenure;
        w.tenureHighWatermark = hw;
      }
      if (leo < w.exposedHighWatermark) this.fail(`broker ${b.id} truncated to ${leo}, below the high watermark ${w.exposedHighWatermark} it had exposed`);
      if (hw > w.exposedHighWatermark) w.exposedHighWatermark = hw;
      if (w.verifiedTo > leo) w.verifiedTo = leo;
      if (hw > w.verifiedTo) {
        this.compare(b.id, epoch, readValues(log, w.verifiedTo, hw), w.verifiedTo, hw);
        w.verifiedTo = hw;
      }
    }
  }

  private compare(id: number, epoch: number, values: Map<number, string>, from: number, to: number): void {
    for (let offset = from; offset < to; offset++) {
      const value = values.get(offset);
      if (value === undefined) continue;
      const known = this.committed.get(offset);
      if (known !== undefined && known.value !== value) this.fail(`broker ${id} exposes ${value} at offset ${offset} where another replica exposed ${known.value}`);
      if (known === undefined || epoch < known.epoch) this.committed.set(offset, { value, epoch });
      const acked = this.acked.get(offset);
      if (acked !== undefined && acked.value !== value) this.fail(`broker ${id} exposes ${value} at offset ${offset}, acknowledged as ${acked.value}`);
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
      for (const [offset, { value }] of this.acked) {
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
