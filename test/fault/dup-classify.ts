/**
 * Tells the broker's duplicates from librdkafka's (issue #16, docs/reliability.md).
 *
 * librdkafka 2.x bumps its own producer epoch (rd_kafka_idemp_drain_epoch_bump) and resends
 * every unacknowledged message under the new epoch from sequence 0. A message that is in
 * the log but whose acknowledgement the client has not seen is then appended again, and no
 * broker can tell (new epoch = new sequence space; Kafka's broker does the same). One such
 * bump is a client race on a leader change: the old leader answers NOT_LEADER_OR_FOLLOWER
 * for an in-flight batch while the next batch already went to the new leader, which
 * correctly answers OUT_OF_ORDER_SEQUENCE_NUMBER; librdkafka logs "skipped sequence numbers
 * ... caused by previous failed request (NOT_LEADER_FOR_PARTITION" and bumps. The same
 * happens after NOT_ENOUGH_REPLICAS (RACE_CAUSES below).
 *
 * For every value found twice in the final log, both copies' batch headers (producer id,
 * producer epoch, base sequence; read from the brokers' segment files) and the producer's
 * debug log (eos,msg) classify it:
 *  - 'broker':      same producer id and epoch: the broker's idempotence failed. Fails the run.
 *  - 'client-race': same producer id, the second copy under a later epoch E, and every bump
 *                   from the first copy's epoch up to E was that client bump. Reported, not failed.
 *  - 'unexplained': anything else (a bump after another error, no debug log line, no batch
 *                   header, a KafkaJS value, another producer id). Fails the run.
 * Pure functions apart from readBatchHeaders (which reads segment files).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordBatchError, forEachBatch, readBatchHeader } from '@tributary/protocol';

/** The librdkafka idempotent producer's debug log (debug=eos,msg) in a fault run's directory. */
export const RDK_DEBUG_LOG = 'rdk-producer.log';
/** The librdkafka debug contexts fault runs log: eos says why the epoch was bumped, msg which batches were sent and answered. */
export const RDK_DEBUG_CONTEXTS = 'eos,msg';

export interface BatchHeader {
  readonly baseOffset: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export interface Duplicate {
  readonly value: string;
  readonly first: { readonly partition: number; readonly offset: number };
  readonly second: { readonly partition: number; readonly offset: number };
}

export type DuplicateClass = 'broker' | 'client-race' | 'unexplained';

export interface ClassifiedDuplicate extends Duplicate {
  readonly kind: DuplicateClass;
  /** Why: the headers, and for 'client-race' the bump's log line(s). */
  readonly reason: string;
}

/**
 * One ERRSEQ line: a request refused because its base sequence skipped past the next one
 * (`baseSeq`), librdkafka blaming the earlier request at `causeBaseSeq` that failed with `cause`.
 */
export interface SkippedRequest {
  readonly partition: string;
  readonly baseSeq: number;
  readonly cause: string;
  readonly causeBaseSeq: number;
}

/** One epoch bump as librdkafka's debug log shows it. */
export interface EpochBump {
  readonly producerId: number;
  /** The epoch bumped to. */
  readonly toEpoch: number;
  /** "Beginning partition drain ... epoch bump ...: <reason>" lines for the epoch before. */
  readonly drainReasons: string[];
  /** ERRSEQ "skipped sequence numbers ... caused by previous failed request (<ERR>" lines for the epoch before. */
  readonly skippedCauses: string[];
  /** The same ERRSEQ lines in detail, where the line names them (chainRooted). */
  readonly skipped: SkippedRequest[];
  /** The log lines that explain the bump (ERRSEQ lines, else the drain lines), for the report. */
  readonly lines: string[];
}

/**
 * The errors after which librdkafka's "skipped sequence numbers" bump is its own doing, the
 * broker having answered as Kafka's does: a batch refused WITHOUT being written (librdkafka's
 * actions name it MsgNotPersisted), so the next pipelined batch, reaching a leader that can
 * take it, is rightly answered OUT_OF_ORDER_SEQUENCE_NUMBER, and librdkafka bumps its epoch
 * instead of resending the refused batch first.
 *  - NOT_LEADER_FOR_PARTITION (librdkafka 2.0.2's name for NOT_LEADER_OR_FOLLOWER): the old
 *    leader's answer on a leader change; the next batch went to the new leader.
 *  - NOT_ENOUGH_REPLICAS: the ISR was below min.insync.replicas, which Kafka's
 *    Partition.appendRecordsToLeader checks before the append; the next batch came once the
 *    ISR had grown back (seen in a default fault run: 50 ms later, after fenced brokers
 *    registered again and rejoined the ISRs).
 * Not here: KAFKA_STORAGE_ERROR (a full disk once answered the pipelined batches behind it
 * OUT_OF_ORDER where Kafka's offline directory answers KAFKA_STORAGE_ERROR: a broker bug,
 * fixed), or any other cause.
 */
const RACE_CAUSES: ReadonlySet<string> = new Set(['NOT_LEADER_FOR_PARTITION', 'NOT_ENOUGH_REPLICAS']);
/**
 * A cause that is the race only as its continuation: the request it names was itself
 * refused OUT_OF_ORDER_SEQUENCE_NUMBER (never written: Kafka writes no batch it answers so)
 * because it skipped past a batch refused for one of RACE_CAUSES. Seen in a default fault
 * run (seed 1, 2026-12-04): NOT_ENOUGH_REPLICAS for seq 635, then OUT_OF_ORDER for the
 * pipelined 636 (its ERRSEQ line names 635's NOT_ENOUGH_REPLICAS), then 637-654 refused
 * with an ERRSEQ line naming 636's OUT_OF_ORDER. Accepted only when the chain of ERRSEQ
 * lines, partition by partition, leads back to a RACE_CAUSES refusal; an OUT_OF_ORDER
 * that no such line explains (a broker refusing a batch in sequence) stays unexplained.
 */
const CHAINED_CAUSE = 'OUT_OF_ORDER_SEQUENCE_NUMBER';
const RACE_DRAIN_REASON = 'skipped sequence numbers';

const BUMPED = /All partitions drained, bumped epoch to PID\{Id:(\d+),Epoch:(\d+)\}/;
const DRAIN = /Beginning partition drain in state \w+ for PID\{Id:(\d+),Epoch:(\d+)\} epoch bump .*?: (.*)$/;
const ERRSEQ = /failed due to skipped sequence numbers \(PID\{Id:(\d+),Epoch:(\d+)\},.*caused by previous failed request \(([A-Z_]+)/;
const ERRSEQ_DETAIL = /ProduceRequest for (.+?) with \d+ message\(s\) failed due to skipped sequence numbers \(PID\{Id:\d+,Epoch:\d+\}, base seq (\d+) > next seq \d+\) caused by previous failed request \([A-Z_]+,[^)]*?base seq (\d+)\.\./;

/** Every epoch bump in a librdkafka debug log (debug=eos), keyed `${producerId}/${toEpoch}`. */
export function parseEpochBumps(logText: string): Map<string, EpochBump> {
  const out = new Map<string, EpochBump>();
  // Lines about the epoch being left, gathered until the bump that leaves it.
  type Pending = { drainReasons: string[]; skippedCauses: string[]; skipped: SkippedRequest[]; lines: string[]; drainLines: string[] };
  const empty = (): Pending => ({ drainReasons: [], skippedCauses: [], skipped: [], lines: [], drainLines: [] });
  const pending = new Map<string, Pending>();
  const get = (id: string, epoch: string) => {
    const k = `${id}/${epoch}`;
    let p = pending.get(k);
    if (p === undefined) pending.set(k, (p = empty()));
    return p;
  };
  for (const line of logText.split('\n')) {
    if (!line.includes('|ERRSEQ|') && !line.includes('|DRAIN|')) continue;
    let m = ERRSEQ.exec(line);
    if (m !== null) {
      const p = get(m[1]!, m[2]!);
      p.skippedCauses.push(m[3]!);
      const detail = ERRSEQ_DETAIL.exec(line);
      if (detail !== null) p.skipped.push({ partition: detail[1]!, baseSeq: Number(detail[2]), cause: m[3]!, causeBaseSeq: Number(detail[3]) });
      p.lines.push(line.trim());
      continue;
    }
    m = DRAIN.exec(line);
    if (m !== null) {
      const p = get(m[1]!, m[2]!);
      p.drainReasons.push(m[3]!.trim());
      p.drainLines.push(line.trim());
      continue;
    }
    m = BUMPED.exec(line);
    if (m !== null) {
      const id = Number(m[1]);
      const to = Number(m[2]);
      const p = pending.get(`${id}/${to - 1}`) ?? empty();
      pending.delete(`${id}/${to - 1}`);
      out.set(`${id}/${to}`, { producerId: id, toEpoch: to, drainReasons: p.drainReasons, skippedCauses: p.skippedCauses, skipped: p.skipped, lines: p.lines.length > 0 ? p.lines : p.drainLines });
    }
  }
  return out;
}

/**
 * Whether a bump is the client's own and nothing else: every drain for skipped sequence
 * numbers, every skip caused by one of RACE_CAUSES, or by an OUT_OF_ORDER refusal of a
 * request that was itself such a skip (CHAINED_CAUSE, followed through the ERRSEQ lines).
 */
export function isRaceBump(b: EpochBump): boolean {
  return b.drainReasons.length > 0 && b.skippedCauses.length > 0
    && b.drainReasons.every((r) => r === RACE_DRAIN_REASON)
    && b.skippedCauses.every((c) => RACE_CAUSES.has(c) || c === CHAINED_CAUSE)
    && b.skipped.filter((k) => k.cause === CHAINED_CAUSE).length === b.skippedCauses.filter((c) => c === CHAINED_CAUSE).length
    && b.skipped.every((k) => chainRooted(k, b.skipped, new Set()));
}

/** Whether a skipped request's cause leads, through OUT_OF_ORDER refusals that were themselves skips on the same partition, to a RACE_CAUSES refusal. */
function chainRooted(k: SkippedRequest, all: readonly SkippedRequest[], seen: Set<SkippedRequest>): boolean {
  if (RACE_CAUSES.has(k.cause)) return true;
  if (k.cause !== CHAINED_CAUSE || seen.has(k)) return false;
  seen.add(k);
  return all.some((earlier) => earlier.partition === k.partition && earlier.baseSeq === k.causeBaseSeq && chainRooted(earlier, all, seen));
}

/** Every value found more than once in the final log, each extra copy paired with the first. */
export function findDuplicates(log: ReadonlyMap<number, readonly (string | undefined)[]>): Duplicate[] {
  const firstAt = new Map<string, { partition: number; offset: number }>();
  const out: Duplicate[] = [];
  for (const partition of [...log.keys()].sort((a, b) => a - b)) {
    const values = log.get(partition)!;
    for (let offset = 0; offset < values.length; offset++) {
      const value = values[offset];
      if (value === undefined) continue;
      const first = firstAt.get(value);
      if (first === undefined) firstAt.set(value, { partition, offset });
      else out.push({ value, first, second: { partition, offset } });
    }
  }
  return out;
}

/** The batch header covering `offset` of `partition`, if known. */
export type HeaderLookup = (partition: number, offset: number) => BatchHeader | undefined;

function describe(h: BatchHeader): string {
  return `pid ${h.producerId} epoch ${h.producerEpoch} base seq ${h.baseSequence} (batch at ${h.baseOffset})`;
}

export function classifyDuplicate(d: Duplicate, headerAt: HeaderLookup, bumps: ReadonlyMap<string, EpochBump> | undefined): ClassifiedDuplicate {
  const a = headerAt(d.first.partition, d.first.offset);
  const b = headerAt(d.second.partition, d.second.offset);
  const where = `${d.value} at ${d.first.partition}/${d.first.offset} and ${d.second.partition}/${d.second.offset}`;
  const out = (kind: DuplicateClass, why: string): ClassifiedDuplicate => ({ ...d, kind, reason: `${where}: ${why}` });
  if (a === undefined || b === undefined) return out('unexplained', `no batch header for ${a === undefined ? 'the first' : 'the second'} copy`);
  const headers = `first ${describe(a)}, second ${describe(b)}`;
  if (a.producerId === b.producerId && a.producerEpoch === b.producerEpoch) return out('broker', `${headers}: same producer epoch, the broker's idempotence failed`);
  // KafkaJS's duplicate check stays strict: only librdkafka's race is explained here.
  if (!d.value.startsWith('rdk-')) return out('unexplained', `${headers}: not a librdkafka producer's value`);
  if (a.producerId !== b.producerId || a.producerId < 0) return out('unexplained', `${headers}: different producer ids`);
  if (b.producerEpoch <= a.producerEpoch) return out('unexplained', `${headers}: the second copy is not under a later epoch`);
  if (bumps === undefined) return out('unexplained', `${headers}: no librdkafka debug log to explain the epoch bump`);
  const lines: string[] = [];
  for (let e = a.producerEpoch + 1; e <= b.producerEpoch; e++) {
    const bump = bumps.get(`${a.producerId}/${e}`);
    if (bump === undefined) return out('unexplained', `${headers}: the debug log has no bump to epoch ${e}`);
    if (!isRaceBump(bump)) return out('unexplained', `${headers}: the bump to epoch ${e} was not librdkafka's own after an unwritten batch (drain: ${bump.drainReasons.join('; ') || 'none'}; skipped sequences caused by: ${bump.skippedCauses.join(', ') || 'none'}): ${bump.lines[0] ?? ''}`);
    lines.push(...bump.lines);
  }
  return out('client-race', `${headers}: librdkafka bumped its epoch after ${[...new Set(lines.map((l) => /caused by previous failed request \(([A-Z_]+)/.exec(l)?.[1] ?? 'skipped sequence numbers'))].join(', ')}: ${lines.join(' | ')}`);
}

/**
 * Reads the record batch headers of `topic`'s partitions from the brokers' data directories
 * (`<runDir>/data-<n>/<topic>-<p>/*.log`, read after the brokers stopped). The first broker
 * that has a batch covering an offset answers for it (the replicas agree below the high
 * watermark after healing). Bytes are validated: a torn or odd batch ends that file's scan.
 */
export function readBatchHeaders(runDir: string, topic: string, partitions: readonly number[]): HeaderLookup {
  const byPartition = new Map<number, BatchHeader[]>();
  const lastOffsets = new Map<number, number[]>();
  const dataDirs = existsSync(runDir) ? readdirSync(runDir).filter((n) => /^data-\d+$/.test(n)).sort() : [];
  for (const p of partitions) {
    const seen = new Map<number, { h: BatchHeader; last: number }>();
    for (const d of dataDirs) {
      const dir = join(runDir, d, `${topic}-${p}`);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
        let buf: Buffer;
        try { buf = readFileSync(join(dir, f)); } catch { continue; }
        for (const x of scanBatches(buf)) if (!seen.has(x.h.baseOffset)) seen.set(x.h.baseOffset, x);
      }
    }
    const sorted = [...seen.values()].sort((x, y) => x.h.baseOffset - y.h.baseOffset);
    byPartition.set(p, sorted.map((x) => x.h));
    lastOffsets.set(p, sorted.map((x) => x.last));
  }
  return (partition, offset) => {
    const hs = byPartition.get(partition);
    const lasts = lastOffsets.get(partition);
    if (hs === undefined || lasts === undefined) return undefined;
    // The last batch starting at or before `offset`, if it reaches it.
    let lo = 0;
    let hi = hs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (hs[mid]!.baseOffset <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && lasts[found]! >= offset ? hs[found] : undefined;
  };
}

/**
 * The headers of the v2 record batches in one segment file's bytes (the protocol package's
 * batch walk and header reader); the scan stops at the first torn or malformed batch.
 */
export function* scanBatches(buf: Buffer): Generator<{ h: BatchHeader; last: number }> {
  const found: { h: BatchHeader; last: number }[] = [];
  try {
    forEachBatch(buf, (at) => {
      const { baseOffset, lastOffsetDelta, producerId, producerEpoch, baseSequence } = readBatchHeader(buf, at);
      found.push({ h: { baseOffset, producerId, producerEpoch, baseSequence }, last: baseOffset + lastOffsetDelta });
    });
  } catch (err) {
    if (!(err instanceof RecordBatchError)) throw err;
  }
  yield* found;
}

/** Classifies every duplicate of the final log; `debugLog` undefined when the run had none. */
export function classifyDuplicates(log: ReadonlyMap<number, readonly (string | undefined)[]>, headerAt: HeaderLookup, debugLog: string | undefined): ClassifiedDuplicate[] {
  const dups = findDuplicates(log);
  if (dups.length === 0) return [];
  const bumps = debugLog === undefined ? undefined : parseEpochBumps(debugLog);
  return dups.map((d) => classifyDuplicate(d, headerAt, bumps));
}

/** The second copies of the client-race duplicates, as checker.ts's explainedCopies ("partition/offset"). */
export function explainedCopies(classified: readonly ClassifiedDuplicate[]): Set<string> {
  return new Set(classified.filter((d) => d.kind === 'client-race').map((d) => `${d.second.partition}/${d.second.offset}`));
}

/** At most this many duplicates of each class go into a report (the counts are complete). */
export const DUPLICATE_EXAMPLES_MAX = 20;

/** The report's view: failing duplicates labelled by class, the client-race ones apart, and the counts. */
export function duplicateReport(classified: readonly ClassifiedDuplicate[]): { failing: string[]; clientRace: string[]; counts: { broker: number; unexplained: number; clientEpochBump: number } } {
  const failing = classified.filter((d) => d.kind !== 'client-race');
  const race = classified.filter((d) => d.kind === 'client-race');
  return {
    failing: failing.slice(0, DUPLICATE_EXAMPLES_MAX).map((d) => `${d.kind}: ${d.reason}`),
    clientRace: race.slice(0, DUPLICATE_EXAMPLES_MAX).map((d) => d.reason),
    counts: { broker: classified.filter((d) => d.kind === 'broker').length, unexplained: classified.filter((d) => d.kind === 'unexplained').length, clientEpochBump: race.length },
  };
}
