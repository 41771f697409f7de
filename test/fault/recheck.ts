/**
 * Re-checks a kept run's history.json (run.ts writes it when a run fails) with the final
 * log taken from BOTH read-backs: the KafkaJS read-back's log, with its gaps filled from
 * the librdkafka group consumer's reads. For a run whose KafkaJS read-back stopped short
 * (before the stall-based wait, a fixed 60 s cut a 100,000-record read-back off), this
 * says whether any acknowledged record is really missing. Every record both clients read
 * must agree; a disagreement is reported as divergent.
 *
 * It also re-classifies every duplicate (dup-classify.ts) from the run directory's segment
 * files and the librdkafka producer's debug log (<run dir>/rdk-producer.log unless
 * --rdk-log names another file): `duplicated` keeps the ones that fail a run (broker or
 * unexplained), `clientEpochBumpDuplicates` the librdkafka leader-change race.
 *
 *   node --conditions=source --import tsx test/fault/recheck.ts <run dir>/history.json [--rdk-log FILE]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkHistory, type Ack, type Read } from './checker.js';
import { classifyDuplicates, duplicateReport, explainedCopies, RDK_DEBUG_LOG, readBatchHeaders } from './dup-classify.js';
import { TOPIC } from './run.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: recheck.ts <history.json> [--rdk-log FILE]');
const at = process.argv.indexOf('--rdk-log');
const rdkLog = at > 0 ? process.argv[at + 1] : join(dirname(file), RDK_DEBUG_LOG);
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
let holes = 0;
for (const [, l] of log) holes += l.filter((v) => v === undefined).length;
const debugLog = rdkLog !== undefined && existsSync(rdkLog) ? readFileSync(rdkLog, 'utf8') : undefined;
const classified = classifyDuplicates(log, readBatchHeaders(dirname(file), TOPIC, [...endOffsets.keys()]), debugLog);
const check = checkHistory({ acks: h.acks, log, endOffsets, otherReads: h.otherReads, liveReads: h.liveReads, explainedCopies: explainedCopies(classified) });
const dups = duplicateReport(classified);
check.duplicated = dups.failing;
process.stdout.write(JSON.stringify({
  file, rdkDebugLog: debugLog === undefined ? null : rdkLog, recordsFromKafkajs: fromKafkajs, filledFromLibrdkafka: filled, holesLeft: holes, disagreements: disagree.slice(0, 20), ...check,
  duplicates: dups.counts, clientEpochBumpDuplicates: dups.clientRace,
}, null, 2) + '\n');
