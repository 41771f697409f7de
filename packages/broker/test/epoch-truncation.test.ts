/**
 * The follower truncation rules (replica/epoch-truncation.ts), Kafka's
 * AbstractFetcherThread.getOffsetTruncationState cases (KIP-101, KIP-279), and the whole
 * exchange on two real logs: a former leader with a divergent suffix asks the new leader,
 * truncates, re-fetches and ends with the leader's log, epoch cache included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import { LeaderEpochCache, LogManager, type Log } from '@tributary/storage';
import { initialFollowerStep, offsetTruncationState } from '../src/replica/epoch-truncation.js';
import { endOffsetForEpochAsLeader } from '../src/replica/leader-epochs.js';

const cache = (...pairs: [number, number][]) => new LeaderEpochCache(null, pairs.map(([epoch, startOffset]) => ({ epoch, startOffset })));

test('same epochs on both sides: nothing to truncate beyond the leader\'s end', () => {
  const follower = { leaderEpochCache: cache([0, 0], [1, 5]), logEndOffset: 10, fetchOffset: 10 };
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: 1, endOffset: 10 }), { offset: 10, truncationCompleted: true });
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: 1, endOffset: 20 }), { offset: 10, truncationCompleted: true }, 'the leader has more: fetch it');
});

test('the follower\'s log goes beyond the leader\'s end of the epoch: truncate to the leader\'s end (KIP-101)', () => {
  const follower = { leaderEpochCache: cache([0, 0], [1, 5]), logEndOffset: 15, fetchOffset: 15 };
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: 1, endOffset: 12 }), { offset: 12, truncationCompleted: true });
});

test('the leader answers a smaller epoch the follower knows: truncate to the smaller of both ends', () => {
  // The follower led epoch 2 alone and wrote 8-11; the leader never had epoch 2.
  const follower = { leaderEpochCache: cache([0, 0], [1, 5], [2, 8]), logEndOffset: 12, fetchOffset: 12 };
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: 1, endOffset: 9 }), { offset: 8, truncationCompleted: true }, 'follower\'s epoch 1 ends at 8');
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: 1, endOffset: 7 }), { offset: 7, truncationCompleted: true }, 'leader\'s epoch 1 ends at 7');
});

test('the leader answers an epoch the follower never had: truncate to its own epoch below, ask again (KIP-279)', () => {
  const follower = { leaderEpochCache: cache([0, 0], [2, 5], [4, 8]), logEndOffset: 12, fetchOffset: 12 };
  const first = offsetTruncationState(follower, { leaderEpoch: 3, endOffset: 10 });
  assert.deepEqual(first, { offset: 8, truncationCompleted: false }, 'epoch 2 (the largest below 3) ends at 8');
  // After truncating to 8 the follower's latest epoch is 2; the leader answers (2, 6).
  const after = { leaderEpochCache: cache([0, 0], [2, 5]), logEndOffset: 8, fetchOffset: 8 };
  assert.deepEqual(offsetTruncationState(after, { leaderEpoch: 2, endOffset: 6 }), { offset: 6, truncationCompleted: true });
});

test('the leader has no such epoch (undefined offset): the fetch state\'s offset', () => {
  const follower = { leaderEpochCache: cache([3, 0]), logEndOffset: 12, fetchOffset: 9 };
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: -1, endOffset: -1 }), { offset: 9, truncationCompleted: true });
});

test('an answer without an epoch (OffsetForLeaderEpoch v0): the leader\'s offset, at most the log end', () => {
  const follower = { leaderEpochCache: cache([3, 0]), logEndOffset: 12, fetchOffset: 12 };
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: -1, endOffset: 7 }), { offset: 7, truncationCompleted: true });
  assert.deepEqual(offsetTruncationState(follower, { leaderEpoch: -1, endOffset: 70 }), { offset: 12, truncationCompleted: true });
});

test('the follower tracked no epoch at or below the leader\'s: the leader\'s offset', () => {
  const empty = { leaderEpochCache: cache(), logEndOffset: 12, fetchOffset: 12 };
  assert.deepEqual(offsetTruncationState(empty, { leaderEpoch: 2, endOffset: 5 }), { offset: 5, truncationCompleted: true });
  // Epochs all newer than the leader's answer: the first entry's start bounds it.
  const newer = { leaderEpochCache: cache([5, 4], [6, 9]), logEndOffset: 12, fetchOffset: 12 };
  assert.deepEqual(offsetTruncationState(newer, { leaderEpoch: 2, endOffset: 6 }), { offset: 4, truncationCompleted: true });
});

test('a follower starts by fetching with its latest epoch, or truncates to the high watermark without one', () => {
  assert.deepEqual(initialFollowerStep(cache([0, 0], [2, 5]), 9, 7), { kind: 'fetch', fetchOffset: 9, lastFetchedEpoch: 2 });
  assert.deepEqual(initialFollowerStep(cache(), 9, 7), { kind: 'truncate_to_high_watermark', offset: 7 });
});

// ---------------------------------------------------------------- two real logs

function batch(values: string[]): Buffer {
  return encodeBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1000 })) });
}

/** Copies the leader's batches from `from` to the follower (a fetch and a follower append). */
function replicate(leader: Log, follower: Log, from: number): void {
  const read = leader.read(from, 1 << 20);
  assert.equal(read.kind, 'ok');
  if (read.kind === 'ok' && read.records.length > 0) follower.appendAsFollower(Buffer.concat(read.records));
}

function allRecords(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 1 << 24);
  assert.equal(read.kind, 'ok');
  return read.kind === 'ok' ? Buffer.concat(read.records) : Buffer.alloc(0);
}

test('a former leader truncates its divergent suffix to the new leader\'s epoch boundary and catches up', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-epoch-trunc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const open = (name: string) => LogManager.open({ dataDir: path.join(dir, name), schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  const mA = await open('a');
  const mB = await open('b');
  t.after(() => Promise.all([mA.close(), mB.close()]));
  const a = mA.createLog('t', 0);
  const b = mB.createLog('t', 0);
  // Epoch 0: A leads, B replicates offsets 0-3.
  a.append(batch(['a0', 'a1']), { leaderEpoch: 0 });
  a.append(batch(['a2', 'a3']), { leaderEpoch: 0 });
  replicate(a, b, 0);
  // A writes 4-6 in epoch 0 that B never gets (acks=1), then A is cut off; B becomes
  // leader in epoch 1 and writes 4-5 of its own. Then A comes back as a follower.
  a.append(batch(['lost4', 'lost5', 'lost6']), { leaderEpoch: 0 });
  b.append(batch(['b4', 'b5']), { leaderEpoch: 1 });
  assert.equal(a.logEndOffset, 7);

  // A's first step: fetch with lastFetchedEpoch 0; B answers diverging_epoch (0, 4).
  const step = initialFollowerStep(a.leaderEpochCache, a.logEndOffset, a.highWatermark);
  assert.deepEqual(step, { kind: 'fetch', fetchOffset: 7, lastFetchedEpoch: 0 });
  const answer = endOffsetForEpochAsLeader(b, 1, 0);
  assert.deepEqual(answer, { epoch: 0, endOffset: 4 });
  const truncation = offsetTruncationState(
    { leaderEpochCache: a.leaderEpochCache, logEndOffset: a.logEndOffset, fetchOffset: step.kind === 'fetch' ? step.fetchOffset : 0 },
    { leaderEpoch: answer.epoch, endOffset: answer.endOffset },
  );
  assert.deepEqual(truncation, { offset: 4, truncationCompleted: true });
  a.truncateTo(truncation.offset);
  assert.equal(a.logEndOffset, 4, 'the divergent suffix 4-6 is gone');
  replicate(b, a, a.logEndOffset);
  assert.equal(a.logEndOffset, 6);
  assert.deepEqual(allRecords(a), allRecords(b), 'byte for byte the leader\'s log');
  assert.deepEqual(a.leaderEpochCache.epochEntries(), b.leaderEpochCache.epochEntries());
  assert.deepEqual(a.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 4 }]);
});
