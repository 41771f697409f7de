/** The assertions every fault run must pass (leader-kill.test.ts and the other fault files). */
import assert from 'node:assert/strict';
import type { FaultReport } from './run.js';

export function assertCleanRun(report: FaultReport): void {
  assert.ok(report.acknowledgedBy['kafkajs']! > 0 && report.acknowledgedBy['librdkafka']! > 0, `both producers were acknowledged: ${JSON.stringify(report.acknowledgedBy)}`);
  assert.deepEqual(report.fatalErrors, [], 'no client died');
  assert.deepEqual(report.lost, [], 'every acknowledged record is at its acknowledged offset');
  assert.deepEqual(report.duplicated, [], 'no record twice (idempotent producers)');
  assert.deepEqual(report.reordered, [], 'each producer\'s records in the order sent, per partition');
  assert.deepEqual(report.divergent, [], 'no consumer read a record that is not in the final log at that offset');
  assert.deepEqual(report.aboveEnd, [], 'no read at or above the end offset');
  assert.equal(report.readBackLibrdkafka, report.recordsInLog, 'the librdkafka group consumer read back the whole log too');
  assert.ok(report.liveReads > 0, 'the KafkaJS group consumer read during the faults');
  for (const e of report.events) {
    assert.ok(e.isrRestored, `every replica back in the ISR after ${e.fault} (${e.detail})`);
    if (e.kind === 'disk-full') assert.equal(e.stoppedOnFullDisk, false, `a full log directory fails writes retriably and the broker stays up (docs/compatibility.md): ${e.detail}`);
  }
}
