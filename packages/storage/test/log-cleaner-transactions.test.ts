// The log cleaner and transactions (issue #17, found by test/compat/transactions-eos.test.ts's
// reasoning about __consumer_offsets): a record of an aborted transaction must not make the
// cleaner remove an older committed record of the same key, and is itself removed, as
// Kafka's cleaner does (buildOffsetMap skips aborted batches, cleanInto discards them). A
// transaction still open at the clean (its marker not in the cleanable segments) must not
// remove older records of its keys either: Kafka never cleans past the last stable offset.
// The cleaned segment keeps the aborted-transaction index entries (.txnindex) of the
// segments it replaces, so read_committed Fetch still learns of them.
// Without this, a transactional offset commit that was aborted (or is still open) wipes the
// group's committed offset from __consumer_offsets at the next clean, and after a restart
// the group resumes from an older offset: exactly-once consumers process records twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatchSync, encodeBatchSync, readBatchHeader, splitBatches } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';
import type { Log } from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

const COMPACTED = {
  'cleanup.policy': 'compact',
  'segment.bytes': '100000',
  'file.delete.delay.ms': '0',
  'min.cleanable.dirty.ratio': '0',
};

function txnRecord(log: Log, producerId: number, seq: number, key: string, value: string) {
  const batch = encodeBatchSync({
    producerId, producerEpoch: 0, baseSequence: seq, transactional: true, timestamp: 1_700_000_000_000,
    records: [{ key: Buffer.from(key), value: Buffer.from(value) }],
  });
  return log.append(batch, { leaderEpoch: 0 });
}

function marker(log: Log, producerId: number, commit: boolean) {
  const r = log.appendEndTxnMarker({ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit, leaderEpoch: 0 });
  assert.equal(r.kind, 'ok');
}

function dataRecords(log: Log): Array<[number, string, string]> {
  const r = log.read(log.logStartOffset, 1 << 20);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return [];
  const out: Array<[number, string, string]> = [];
  for (const b of r.records) {
    const headers = splitBatches(b);
    if (typeof headers === 'string') throw new Error(headers);
    for (const h of headers) {
      if (readBatchHeader(b, h.position).isControl) continue;
      for (const x of decodeBatchSync(b, h.position).records) out.push([x.offset, x.key!.toString(), x.value!.toString()]);
    }
  }
  return out;
}

test('the cleaner discards aborted transactions and never lets them or open ones shadow a committed record', async (t) => {
  const dataDir = tempDir(t);
  const manager = await LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
  t.after(() => manager.close());
  const log = manager.createLog('__consumer_offsets', 0, fromProperties(COMPACTED));
  txnRecord(log, 10, 0, 'k', 'committed'); // 0
  marker(log, 10, true); // 1
  txnRecord(log, 10, 1, 'k', 'aborted'); // 2
  txnRecord(log, 10, 2, 'j', 'aborted'); // 3
  marker(log, 10, false); // 4
  txnRecord(log, 20, 0, 'j', 'committed'); // 5
  marker(log, 20, true); // 6
  log.roll();
  // 7: its marker comes after the clean. The clean stops at the last stable offset (7), as
  // Kafka's, so only whole segments below it are cleaned.
  txnRecord(log, 30, 0, 'k', 'open');
  log.roll();
  await log.flush();
  log.updateHighWatermark(log.logEndOffset);
  const stats = await manager.cleaner.cleanLogNow(log);
  assert.ok(stats !== null && stats.swapped, 'the clean swapped its segments in');
  assert.deepEqual(dataRecords(log), [[0, 'k', 'committed'], [5, 'j', 'committed'], [7, 'k', 'open']]);
  // The cleaned segment keeps the old one's aborted-transaction entries (read_committed).
  const abortedOf = (l: Log) => l.collectAbortedTransactions(0, l.logEndOffset).map((a) => [a.producerId, a.firstOffset, a.lastOffset]);
  assert.deepEqual(abortedOf(log), [[10, 2, 4]]);

  // Once the open transaction aborts too, the next clean removes it and still keeps offset 0.
  marker(log, 30, false); // 8
  txnRecord(log, 10, 3, 'k', 'later'); // 9
  marker(log, 10, true); // 10
  log.roll();
  await log.flush();
  log.updateHighWatermark(log.logEndOffset);
  assert.ok((await manager.cleaner.cleanLogNow(log))?.swapped);
  assert.deepEqual(dataRecords(log), [[5, 'j', 'committed'], [9, 'k', 'later']]);
  assert.deepEqual(abortedOf(log), [[10, 2, 4], [30, 7, 8]]);
  await manager.close();
  const reopened = await LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
  try {
    assert.deepEqual(abortedOf(reopened.getLog('__consumer_offsets', 0)!), [[10, 2, 4], [30, 7, 8]], 'the cleaned .txnindex is on disk under its final name');
  } finally {
    await reopened.close();
  }
});
