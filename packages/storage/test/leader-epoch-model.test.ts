// Random sequences of leader appends (rising epochs), follower appends, truncations,
// DeleteRecords, retention, flushes, clean restarts and kill -9 (with and without a torn
// tail) against the leader-epoch cache. After every step the cache must equal what the
// log's own batches say (the model: every batch's epoch assigned in order, cut to the log
// start offset), which is what Kafka's cache means; after a restart too, whatever the
// checkpoint file held. Seeded: a failure prints the seed and the steps that led to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { BatchLayout, setPartitionLeaderEpoch } from '@tributary/protocol';
import { LeaderEpochCache, LogManager, deleteOldSegments, fromProperties, type Log } from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';

// More with EPOCH_MODEL_SEEDS=n (seeds 1..n).
const SEEDS = Array.from({ length: Number(process.env.EPOCH_MODEL_SEEDS ?? 6) }, (_, i) => i + 1);
const STEPS = 150;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The cache the batches imply: the epoch of every batch still on disk (below the log
 * start offset too: the segment holding it may still be there), in order, cut to the log
 * start offset as Kafka's truncateFromStart does.
 */
function model(log: Log): { epoch: number; startOffset: number }[] {
  const cache = new LeaderEpochCache(null);
  for (const seg of log.segments) {
    seg.walk(0, seg.size, () => true, (h, body) => {
      const epoch = body!.readInt32BE(BatchLayout.PARTITION_LEADER_EPOCH);
      if (epoch >= 0) cache.assign(epoch, h.baseOffset);
      return true;
    });
  }
  cache.truncateFromStart(log.logStartOffset);
  return cache.epochEntries();
}

/**
 * The cache must equal the model, except for a log with nothing to fetch (log start = log
 * end): no batch says which epoch starts there, and Kafka's cache holds either nothing
 * (truncateFromEnd to that offset) or one entry starting there (truncateFromStart after
 * DeleteRecords or retention removed the rest). Either is accepted then.
 */
function check(log: Log, where: string): void {
  const actual = log.leaderEpochCache.epochEntries();
  const expected = model(log);
  if (log.logStartOffset === log.logEndOffset && actual.length <= 1 && expected.length <= 1) {
    if (actual.length === 1) assert.equal(actual[0]!.startOffset, log.logStartOffset, where);
    return;
  }
  assert.deepEqual(actual, expected, where);
}

for (const seed of SEEDS) {
  test(`leader-epoch cache matches the log's batches through random operations and crashes (seed ${seed})`, async (t) => {
    const random = prng(seed);
    const pick = (n: number) => Math.floor(random() * n);
    const dataDir = tempDir(t);
    const config = fromProperties({ 'segment.bytes': '400', 'retention.bytes': '1200' });
    const open = () => LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
    let m = await open();
    let log = m.createLog('t', 0, config);
    let epoch = 0;
    const steps: string[] = [];
    try {
      for (let i = 0; i < STEPS; i++) {
        const op = pick(100);
        if (op < 40) {
          if (pick(4) === 0) epoch += 1 + pick(2);
          log.append(makeBatch({ timestamps: Array.from({ length: 1 + pick(3) }, (_, k) => 1000 + k), valueBytes: 40 }), { leaderEpoch: epoch });
          steps.push(`append epoch ${epoch}`);
        } else if (op < 55) {
          // A follower copy of a leader batch, possibly of a newer epoch.
          if (pick(3) === 0) epoch += 1;
          const b = makeBatch({ timestamps: [1, 2], valueBytes: 40, baseOffset: log.logEndOffset });
          setPartitionLeaderEpoch(b, 0, epoch);
          log.appendAsFollower(b);
          steps.push(`follower append epoch ${epoch}`);
        } else if (op < 65) {
          const to = log.logStartOffset + pick(log.logEndOffset - log.logStartOffset + 1);
          log.truncateTo(to);
          steps.push(`truncateTo ${to}`);
        } else if (op < 70) {
          log.updateHighWatermark(log.logEndOffset);
          const to = log.logStartOffset + pick(log.highWatermark - log.logStartOffset + 1);
          log.deleteRecordsBefore(to);
          steps.push(`deleteRecordsBefore ${to}`);
        } else if (op < 74) {
          log.updateHighWatermark(log.logEndOffset);
          deleteOldSegments(log, Date.now());
          steps.push('retention');
        } else if (op < 84) {
          await log.flush();
          m.checkpoint();
          steps.push('flush');
        } else if (op < 88) {
          await m.close();
          m = await open();
          log = m.getLog('t', 0)!;
          steps.push('clean restart');
        } else if (op < 96) {
          m.abandon();
          m = await open();
          log = m.getLog('t', 0)!;
          steps.push('kill -9');
        } else {
          // Power loss: the unflushed tail of the active segment is torn.
          const file = log.activeSegment.logFile;
          const flushedTo = log.recoveryPoint;
          m.abandon();
          const size = fs.statSync(file).size;
          if (size > 0 && log.logEndOffset > flushedTo) fs.truncateSync(file, size - 1 - pick(Math.min(size - 1, 60)));
          m = await open();
          log = m.getLog('t', 0)!;
          steps.push('power loss');
        }
        check(log, `after step ${i}: ${steps.slice(-8).join(' | ')}`);
      }
    } catch (err) {
      (err as Error).message = `seed ${seed}, steps: ${steps.join(' | ')}\n${(err as Error).message}`;
      throw err;
    } finally {
      await m.close().catch(() => undefined);
    }
  });
}
