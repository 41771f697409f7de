/** The assertions every fault run must pass (leader-kill.test.ts and the other fault files). */
import assert from 'node:assert/strict';
import type { FaultReport } from './run.js';

export function assertCleanRun(report: FaultReport): void {
  assert.ok(report.acknowledgedBy['kafkajs']! > 0 && report.acknowledgedBy['librdkafka']! > 0, `both producers were acknowledged: ${JSON.stringify(report.acknowledgedBy)}`);
  assert.deepEqual(report.fatalErrors, [], 'no client died');
  assert.deepEqual(report.txnFatalUnexpected, [], 'the transactional producer met no fatal error but _FENCED after a transaction timeout');
  assert.deepEqual(report.lost, [], 'every acknowledged record is at its acknowledged offset');
  // report.duplicated holds the broker's and the unexplained duplicates (dup-classify.ts);
  // librdkafka's own leader-change epoch-bump resends are counted apart and do not fail.
  assert.deepEqual(report.duplicated, [], 'no record twice (idempotent producers): none under one producer epoch, none the librdkafka race does not explain');
  assert.equal(report.duplicates.broker + report.duplicates.unexplained, 0, `no broker or unexplained duplicate: ${JSON.stringify(report.duplicates)}`);
  assert.deepEqual(report.reordered, [], 'each producer\'s records in the order sent, per partition');
  assert.deepEqual(report.divergent, [], 'no consumer read a record that is not in the final log at that offset');
  assert.deepEqual(report.aboveEnd, [], 'no read at or above the end offset');
  assert.equal(report.readBackLibrdkafka, report.recordsInLog, 'the librdkafka group consumer read back the whole log too');
  assert.ok(report.liveReads > 0, 'the KafkaJS group consumer read during the faults');
  const x = report.transactions;
  assert.ok(x.committed > 0 && x.aborted > 0, `transactions were committed and aborted: ${x.committed} committed, ${x.aborted} aborted`);
  assert.deepEqual(x.lost, [], 'every committed transaction\'s records are read back (commits that returned success are never lost)');
  assert.deepEqual(x.duplicated, [], 'every transactional record once');
  assert.deepEqual(x.abortedSeen, [], 'no read_committed consumer read a record of an aborted transaction');
  assert.deepEqual(x.torn, [], 'all records of a transaction or none');
  assert.deepEqual(x.unknownValues, [], 'no transactional record the producer did not write');
  assert.ok(report.offsets.commits > 0 && report.offsets.fetches > 0, `consumers committed offsets and fetched them after joining: ${report.offsets.commits} commits, ${report.offsets.fetches} fetches`);
  assert.deepEqual(report.offsets.backwards, [], 'committed offsets never go backwards');
  for (const e of report.events) {
    assert.ok(e.isrRestored, `every replica back in the ISR after ${e.fault} (${e.detail})`);
    if (e.kind === 'disk-full') assert.equal(e.stoppedOnFullDisk, false, `a full log directory fails writes retriably and the broker stays up (docs/compatibility.md): ${e.detail}`);
  }
}
