/**
 * The fault suite's checker, in the manner of Jepsen's queue checkers: it takes the history
 * of a run (every acknowledgement a producer got, every record a consumer read during the
 * faults) and the log as read back after healing, and reports every violation of Kafka's
 * contract for idempotent acks=all producers:
 *
 *  - lost:        an acknowledged (partition, offset, value) is not in the final log there;
 *  - duplicated:  a value is in the final log more than once (idempotence forbids it);
 *  - reordered:   one producer's values within a partition are not in the order it sent
 *                 them (a producer's value is "<client>-<seq>", seq increasing);
 *  - divergent:   a consumer read, during the run, a value at an offset where the final log
 *                 holds something else (it read above the high watermark data that was
 *                 later truncated) — Kafka's "no reads of uncommitted data";
 *  - aboveEnd:    a read-back reader returned an offset at or past the end offset.
 *
 * Unacknowledged values may or may not be present; only their uniqueness and order count.
 * Pure functions, no I/O: the test writes the report.
 */

export interface Ack {
  readonly client: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  /** Wall-clock ms when the client saw the acknowledgement. */
  readonly atMs: number;
}

export interface Read {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface CheckResult {
  acknowledged: number;
  found: number;
  lost: string[];
  duplicated: string[];
  reordered: string[];
  divergent: string[];
  aboveEnd: string[];
  recordsInLog: number;
  /** Acknowledgements that came without an offset (checked by value only). */
  withoutOffset: number;
}

/** At most this many examples of each violation go into the report. */
const EXAMPLES_MAX = 20;

function push(list: string[], what: string): void {
  if (list.length < EXAMPLES_MAX) list.push(what);
}

/**
 * `log` is the final content of each partition, index = offset (read from offset 0 to the
 * end offset by a consumer after healing). `otherReads` are further reads of the final
 * log (another client's read-back); `liveReads` were read during the faults.
 */
export function checkHistory(input: {
  acks: readonly Ack[];
  log: ReadonlyMap<number, readonly (string | undefined)[]>;
  endOffsets: ReadonlyMap<number, number>;
  otherReads?: readonly Read[];
  liveReads?: readonly Read[];
  /**
   * Copies ("partition/offset") that dup-classify.ts explained as librdkafka's own epoch-bump
   * resends (issue #16): counted in the log, but neither a duplicate nor out of order (the
   * resent run of values repeats the original run; the report lists them apart).
   */
  explainedCopies?: ReadonlySet<string>;
}): CheckResult {
  const result: CheckResult = { acknowledged: 0, found: 0, lost: [], duplicated: [], reordered: [], divergent: [], aboveEnd: [], recordsInLog: 0, withoutOffset: 0 };
  let lost = 0;
  const seenAt = new Map<string, string>();
  for (const [partition, values] of input.log) {
    const lastSeq = new Map<string, number>();
    for (let offset = 0; offset < values.length; offset++) {
      const value = values[offset];
      if (value === undefined) continue;
      result.recordsInLog++;
      if (input.explainedCopies?.has(`${partition}/${offset}`) === true) continue;
      const before = seenAt.get(value);
      if (before !== undefined) push(result.duplicated, `${value} at ${before} and ${partition}/${offset}`);
      else seenAt.set(value, `${partition}/${offset}`);
      const dash = value.lastIndexOf('-');
      const client = value.slice(0, dash);
      const seq = Number(value.slice(dash + 1));
      const previous = lastSeq.get(client);
      if (previous !== undefined && seq <= previous) push(result.reordered, `${partition}/${offset}: ${value} after ${client}-${previous}`);
      lastSeq.set(client, seq);
    }
  }
  for (const ack of input.acks) {
    result.acknowledged++;
    if (ack.offset < 0) {
      // Delivered without an offset (librdkafka can report that): it must be in the log once, somewhere in its partition.
      result.withoutOffset++;
      const at = seenAt.get(ack.value);
      if (at !== undefined && at.startsWith(`${ack.partition}/`)) result.found++;
      else {
        lost++;
        push(result.lost, `${ack.value} acknowledged without an offset on partition ${ack.partition}, ${at === undefined ? 'not in the log' : `found at ${at}`}`);
      }
      continue;
    }
    const there = input.log.get(ack.partition)?.[ack.offset];
    if (there === ack.value) result.found++;
    else {
      lost++;
      push(result.lost, `${ack.value} acknowledged at ${ack.partition}/${ack.offset}, log has ${there ?? 'nothing'} there${seenAt.has(ack.value) ? ` (the value is at ${seenAt.get(ack.value)})` : ''}`);
    }
  }
  for (const r of input.otherReads ?? []) {
    const end = input.endOffsets.get(r.partition) ?? 0;
    if (r.offset >= end) push(result.aboveEnd, `${r.value} read at ${r.partition}/${r.offset}, end offset ${end}`);
    else if (input.log.get(r.partition)?.[r.offset] !== r.value) push(result.divergent, `read-back ${r.value} at ${r.partition}/${r.offset}, log has ${input.log.get(r.partition)?.[r.offset]}`);
  }
  for (const r of input.liveReads ?? []) {
    const there = input.log.get(r.partition)?.[r.offset];
    if (there !== r.value) push(result.divergent, `live read ${r.value} at ${r.partition}/${r.offset}, final log has ${there ?? 'nothing'} there`);
  }
  // `lost` holds examples; keep the true count visible when it exceeds them.
  if (lost > result.lost.length) result.lost.push(`... ${lost - result.lost.length} more`);
  return result;
}

export function violations(r: CheckResult): number {
  return r.lost.length + r.duplicated.length + r.reordered.length + r.divergent.length + r.aboveEnd.length;
}

/** A window in which no acknowledgement arrived for a partition. */
export interface Window {
  readonly partition: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** Gaps longer than `thresholdMs` between consecutive acknowledgements of each partition. */
export function unavailableWindows(acks: readonly Ack[], thresholdMs: number): Window[] {
  const byPartition = new Map<number, number[]>();
  for (const a of acks) {
    let l = byPartition.get(a.partition);
    if (l === undefined) byPartition.set(a.partition, (l = []));
    l.push(a.atMs);
  }
  const out: Window[] = [];
  for (const [partition, times] of byPartition) {
    times.sort((x, y) => x - y);
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! > thresholdMs) out.push({ partition, fromMs: times[i - 1]!, toMs: times[i]! });
    }
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}

/**
 * For a fault that hit `partition` at `atMs`: per client, the time from the fault to that
 * client's first acknowledgement on the partition after it. Acknowledgements closer than
 * `graceMs` to the fault are skipped: the old leader's last answers, already on their way
 * when it died, would otherwise hide the outage.
 */
export function failoverMs(acks: readonly Ack[], partition: number, atMs: number, graceMs = 50): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of acks) {
    if (a.partition !== partition || a.atMs < atMs + graceMs) continue;
    const d = a.atMs - atMs;
    const prev = out.get(a.client);
    if (prev === undefined || d < prev) out.set(a.client, d);
  }
  return out;
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
