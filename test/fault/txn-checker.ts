/**
 * The fault suite's checkers for transactions and committed offsets (issue #16), pure
 * functions over a run's history like checker.ts.
 *
 * Transactions (checkTransactions): transaction n of the transactional producer
 * (py/txn_producer.py) writes `count` records "tx-<n>-<i>-<count>", one per partition, and
 * ends committed (commit_transaction returned success), aborted (abort_transaction returned
 * success) or unknown (a fatal error: the next instance's init_transactions completes or
 * aborts it). Against the transactional topic as a read_committed consumer read it back
 * after healing, and the records a read_committed consumer read during the faults:
 *  - lost:     a committed transaction with a record missing from the read-back (commits
 *              that returned success are never lost);
 *  - duplicated: a record read back more than once (exactly once);
 *  - abortedSeen: a record of an aborted transaction read by a read_committed consumer;
 *  - torn:     a transaction some but not all of whose records were read back (committed or
 *              unknown: all or none);
 *  - unknownValues: records of no transaction the producer began.
 *
 * Committed offsets (checkCommittedOffsets): every commit a consumer saw acknowledged
 * (group, partition, offset, when), every OffsetFetch a consumer made after a (re)join, and
 * OffsetFetch after healing:
 *  - an OffsetFetch answers at least the last commit acknowledged before it was asked
 *    (committed offsets never go backwards), and the final OffsetFetch at least the last
 *    acknowledged commit of each partition;
 *  - the offsets one consumer's OffsetFetches return never decrease.
 */
import type { Read } from './checker.js';

export type TxnOutcome = 'committed' | 'aborted' | 'unknown';

export interface TxnEnd {
  readonly n: number;
  readonly count: number;
  readonly outcome: TxnOutcome;
}

export interface TxnCheck {
  committed: number;
  aborted: number;
  unknown: number;
  /** Unknown outcomes whose records were all read back (they committed). */
  unknownCommitted: number;
  recordsReadBack: number;
  lost: string[];
  duplicated: string[];
  abortedSeen: string[];
  torn: string[];
  unknownValues: string[];
}

/** At most this many examples of each violation go into the report. */
const EXAMPLES_MAX = 20;

function push(list: string[], what: string): void {
  if (list.length < EXAMPLES_MAX) list.push(what);
}

/** "tx-<n>-<i>-<count>" → its parts; undefined for anything else. */
export function parseTxnValue(value: string): { n: number; i: number; count: number } | undefined {
  const m = /^tx-(\d+)-(\d+)-(\d+)$/.exec(value);
  if (m === null) return undefined;
  return { n: Number(m[1]), i: Number(m[2]), count: Number(m[3]) };
}

export function checkTransactions(input: { ends: readonly TxnEnd[]; readBack: readonly Read[]; liveReads: readonly Read[] }): TxnCheck {
  const r: TxnCheck = { committed: 0, aborted: 0, unknown: 0, unknownCommitted: 0, recordsReadBack: 0, lost: [], duplicated: [], abortedSeen: [], torn: [], unknownValues: [] };
  const outcome = new Map<number, TxnEnd>();
  for (const e of input.ends) {
    outcome.set(e.n, e);
    if (e.outcome === 'committed') r.committed++;
    else if (e.outcome === 'aborted') r.aborted++;
    else r.unknown++;
  }
  // Records per transaction in the read-back, and where each value was.
  const seen = new Map<string, string>();
  const perTxn = new Map<number, Set<number>>();
  for (const x of input.readBack) {
    r.recordsReadBack++;
    const at = `${x.partition}/${x.offset}`;
    const before = seen.get(x.value);
    if (before !== undefined) {
      // The same offset read twice is a re-read, not a second copy.
      if (before !== at) push(r.duplicated, `${x.value} at ${before} and ${at}`);
      continue;
    }
    seen.set(x.value, at);
    const v = parseTxnValue(x.value);
    if (v === undefined) {
      push(r.unknownValues, `${x.value} at ${at}`);
      continue;
    }
    let s = perTxn.get(v.n);
    if (s === undefined) perTxn.set(v.n, (s = new Set()));
    s.add(v.i);
  }
  for (const x of [...input.readBack.map((v) => ({ ...v, by: 'read-back' })), ...input.liveReads.map((v) => ({ ...v, by: 'live' }))]) {
    const v = parseTxnValue(x.value);
    if (v === undefined) continue;
    const e = outcome.get(v.n);
    if (e?.outcome === 'aborted') push(r.abortedSeen, `${x.by} read ${x.value} at ${x.partition}/${x.offset}: transaction ${v.n} was aborted`);
    else if (e === undefined && !perTxn.has(v.n)) push(r.unknownValues, `${x.by} read ${x.value} at ${x.partition}/${x.offset}: no such transaction ended`);
  }
  for (const e of input.ends) {
    const got = perTxn.get(e.n)?.size ?? 0;
    if (e.outcome === 'committed' && got < e.count) push(r.lost, `committed transaction ${e.n}: ${got} of ${e.count} records read back`);
    if (e.outcome !== 'aborted' && got > 0 && got < e.count) push(r.torn, `transaction ${e.n} (${e.outcome}): ${got} of ${e.count} records read back`);
    if (e.outcome === 'unknown' && got === e.count) r.unknownCommitted++;
  }
  // A transaction that was begun but whose end the producer never reported (it was stopped
  // mid-way): all or none too.
  for (const [n, s] of perTxn) {
    if (outcome.has(n)) continue;
    const count = [...input.readBack].map((x) => parseTxnValue(x.value)).find((v) => v?.n === n)?.count ?? 0;
    if (s.size < count) push(r.torn, `transaction ${n} (no outcome reported): ${s.size} of ${count} records read back`);
  }
  return r;
}

export function txnViolations(r: TxnCheck): number {
  return r.lost.length + r.duplicated.length + r.abortedSeen.length + r.torn.length + r.unknownValues.length;
}

export interface OffsetEvent {
  readonly group: string;
  readonly partition: number;
  readonly offset: number;
  /** Wall-clock ms: when the commit was acknowledged, or when the OffsetFetch was asked. */
  readonly atMs: number;
}

export interface OffsetCheck {
  commits: number;
  fetches: number;
  /** Group → partition → what the final OffsetFetch returned. */
  final: Record<string, Record<string, number>>;
  backwards: string[];
}

/**
 * `commits` acknowledged commits; `fetches` OffsetFetches made by the consumers after a
 * (re)join (one consumer per group, in the order made); `final` the OffsetFetch after healing
 * (every consumer stopped), group → partition → offset (-1: none).
 */
export function checkCommittedOffsets(input: { commits: readonly OffsetEvent[]; fetches: readonly OffsetEvent[]; final: ReadonlyMap<string, ReadonlyMap<number, number>> }): OffsetCheck {
  const r: OffsetCheck = { commits: input.commits.length, fetches: input.fetches.length, final: {}, backwards: [] };
  const key = (g: string, p: number): string => `${g}/${p}`;
  const byKey = new Map<string, OffsetEvent[]>();
  for (const c of input.commits) {
    let l = byKey.get(key(c.group, c.partition));
    if (l === undefined) byKey.set(key(c.group, c.partition), (l = []));
    l.push(c);
  }
  for (const l of byKey.values()) l.sort((a, b) => a.atMs - b.atMs);
  /** The largest offset acknowledged before `atMs` (commits acknowledged in the same ms count as before). */
  const ackedBefore = (g: string, p: number, atMs: number): OffsetEvent | undefined => {
    let best: OffsetEvent | undefined;
    for (const c of byKey.get(key(g, p)) ?? []) {
      if (c.atMs >= atMs) break;
      if (best === undefined || c.offset > best.offset) best = c;
    }
    return best;
  };
  const lastFetched = new Map<string, OffsetEvent>();
  for (const f of input.fetches) {
    const acked = ackedBefore(f.group, f.partition, f.atMs);
    if (acked !== undefined && f.offset < acked.offset) {
      push(r.backwards, `${f.group} partition ${f.partition}: OffsetFetch at ${f.atMs} returned ${f.offset}, below ${acked.offset} acknowledged at ${acked.atMs}`);
    }
    const before = lastFetched.get(key(f.group, f.partition));
    if (before !== undefined && f.offset < before.offset) {
      push(r.backwards, `${f.group} partition ${f.partition}: OffsetFetch returned ${f.offset} after ${before.offset}`);
    }
    lastFetched.set(key(f.group, f.partition), f);
  }
  for (const [group, parts] of input.final) {
    r.final[group] = Object.fromEntries([...parts].map(([p, o]) => [String(p), o]));
  }
  for (const [k, l] of byKey) {
    const [group, p] = [k.slice(0, k.lastIndexOf('/')), Number(k.slice(k.lastIndexOf('/') + 1))];
    const max = Math.max(...l.map((c) => c.offset));
    const fin = input.final.get(group)?.get(p);
    if (fin === undefined || fin < max) push(r.backwards, `${group} partition ${p}: the final OffsetFetch returned ${fin ?? 'nothing'}, below the last acknowledged commit ${max}`);
  }
  return r;
}
