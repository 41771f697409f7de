/**
 * Re-checks a kept run's history.json (run.ts writes it when a run fails) with the final
 * log taken from BOTH read-backs: the KafkaJS read-back's log, with its gaps filled from
 * the librdkafka group consumer's reads. For a run whose KafkaJS read-back stopped short
 * (before the stall-based wait, a fixed 60 s cut a 100,000-record read-back off), this
 * says whether any acknowledged record is really missing. Every record both clients read
 * must agree; a disagreement is reported as divergent.
 *
 *   node --conditions=source --import tsx test/fault/recheck.ts <run dir>/history.json
 */
import { readFileSync } from 'node:fs';
import { checkHistory, type Ack, type Read } from './checker.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: recheck.ts <history.json>');
const h = JSON.parse(readFileSync(file, 'utf8')) as {
  acks: Ack[]; liveReads: Read[]; otherReads: Read[]; log: Record<string, (string | null)[]>; endOffsets: Record<string, number>;
};
const endOffsets = new Map(Object.entries(h.endOffsets).map(([p, o]) => [Number(p), o]));
const log = new Map<number, (string | undefined)[]>();
let fromKafkajs = 0;
let filled = 0;
const disagree: string[] = [];
for (const [p, end] of endOffsets) {
  const l: (string | undefined)[] = new Array<string | undefined>(end).fill(undefined);
  (h.log[String(p)] ?? []).forEach((v, o) => { if (v !== null && v !== undefined && o < end) { l[o] = v; fromKafkajs++; } });
  log.set(p, l);
}
for (const r of h.otherReads) {
  const l = log.get(r.partition);
  if (l === undefined || r.offset >= l.length) continue;
  if (l[r.offset] === undefined) { l[r.offset] = r.value; filled++; }
  else if (l[r.offset] !== r.value) disagree.push(`${r.partition}/${r.offset}: kafkajs ${l[r.offset]}, librdkafka ${r.value}`);
}
const check = checkHistory({ acks: h.acks, log, endOffsets, otherReads: h.otherReads, liveReads: h.liveReads });
let holes = 0;
for (const [, l] of log) holes += l.filter((v) => v === undefined).length;
process.stdout.write(JSON.stringify({ file, recordsFromKafkajs: fromKafkajs, filledFromLibrdkafka: filled, holesLeft: holes, disagreements: disagree.slice(0, 20), ...check }, null, 2) + '\n');
