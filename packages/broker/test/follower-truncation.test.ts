/**
 * The follower's side of truncate-on-fetch (replica/follower-truncation.ts) on two real logs,
 * no sockets: the leader answers each fetch as the Fetch handler does (divergingEpoch), the
 * follower truncates on a diverging_epoch and fetches again with its new latest epoch,
 * until the two logs and epoch caches are the same. Covers KIP-279 (the follower never had
 * the leader's epoch: two rounds) and an epoch the follower recorded as leader without
 * writing in it (which only the epoch cache holds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import { LogManager, type Log } from '@tributary/storage';
import { divergingEpoch } from '../src/replica/leader-epochs.js';
import { lastFetchedEpochOf, recordLeaderEpochStart, truncateOnDivergingEpoch } from '../src/replica/follower-truncation.js';
import type { TestContext } from './helpers/broker.js';

/** Fetch rounds allowed before the exchange counts as looping. */
const ROUNDS_MAX = 10;

function batch(values: string[]): Buffer {
  return encodeBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1000 })) });
}

function allRecords(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 1 << 24);
  assert.equal(read.kind, 'ok');
  return read.kind === 'ok' ? Buffer.concat(read.records) : Buffer.alloc(0);
}

async function twoLogs(t: TestContext): Promise<{ leader: Log; follower: Log }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-follower-trunc-'));
  const open = (name: string) => LogManager.open({ dataDir: path.join(dir, name), schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  const [mL, mF] = [await open('leader'), await open('follower')];
  t.after(async () => {
    await Promise.all([mL.close(), mF.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { leader: mL.createLog('t', 0), follower: mF.createLog('t', 0) };
}

/** Fetches until caught up, as the fetcher does; returns the offsets truncated to. */
function catchUp(leader: Log, leaderEpoch: number, follower: Log): number[] {
  const truncations: number[] = [];
  for (let round = 0; round < ROUNDS_MAX; round++) {
    const fetchOffset = follower.logEndOffset;
    const answer = divergingEpoch(leader, leaderEpoch, lastFetchedEpochOf(follower), fetchOffset);
    assert.notEqual(answer, 'out_of_range');
    if (answer !== null && answer !== 'out_of_range') {
      truncateOnDivergingEpoch(follower, answer, fetchOffset);
      truncations.push(follower.logEndOffset);
      continue;
    }
    if (fetchOffset === leader.logEndOffset) return truncations;
    const read = leader.read(fetchOffset, 1 << 20);
    assert.equal(read.kind, 'ok');
    if (read.kind === 'ok') follower.appendAsFollower(Buffer.concat(read.records));
  }
  throw new Error(`no agreement after ${ROUNDS_MAX} fetches; truncations ${JSON.stringify(truncations)}`);
}

test('KIP-279: a follower that never had the leader\'s epoch cuts to its own older epoch\'s end, asks again, and converges', async (t) => {
  const { leader, follower } = await twoLogs(t);
  // Epoch 0 (offsets 0-3) on both. Then the leader writes 4-5 in epoch 1, which the
  // follower never gets; the follower leads epoch 2 and writes 4-6 nobody gets; now the
  // leader leads epoch 3 and writes 6.
  for (const log of [leader, follower]) log.append(batch(['a0', 'a1', 'a2', 'a3']), { leaderEpoch: 0 });
  leader.append(batch(['l4', 'l5']), { leaderEpoch: 1 });
  follower.append(batch(['f4', 'f5', 'f6']), { leaderEpoch: 2 });
  recordLeaderEpochStart(leader, 3);
  leader.append(batch(['l6']), { leaderEpoch: 3 });

  const truncations = catchUp(leader, 3, follower);
  assert.deepEqual(truncations, [4], 'epoch 1 is unknown to the follower: back to where its epoch 0 ends');
  assert.ok(allRecords(follower).equals(allRecords(leader)));
  assert.deepEqual(follower.leaderEpochCache.epochEntries(), leader.leaderEpochCache.epochEntries());
});

test('an epoch the follower recorded as leader but never wrote in is cut from its cache, not sent forever', async (t) => {
  const { leader, follower } = await twoLogs(t);
  for (const log of [leader, follower]) log.append(batch(['a0', 'a1', 'a2']), { leaderEpoch: 0 });
  // The follower led epoch 1 without writing; the leader now leads epoch 2 and writes.
  recordLeaderEpochStart(follower, 1);
  assert.deepEqual(follower.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 3 }]);
  recordLeaderEpochStart(leader, 2);
  leader.append(batch(['l3', 'l4']), { leaderEpoch: 2 });

  const truncations = catchUp(leader, 2, follower);
  assert.deepEqual(truncations, [3], 'no record goes; only the epoch 1 entry');
  assert.ok(allRecords(follower).equals(allRecords(leader)));
  assert.deepEqual(follower.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }]);
});

test('recording an epoch start never removes a newer epoch', async (t) => {
  const { leader } = await twoLogs(t);
  leader.append(batch(['a0']), { leaderEpoch: 4 });
  recordLeaderEpochStart(leader, 3);
  assert.deepEqual(leader.leaderEpochCache.epochEntries(), [{ epoch: 4, startOffset: 0 }]);
  recordLeaderEpochStart(leader, 4);
  assert.deepEqual(leader.leaderEpochCache.epochEntries(), [{ epoch: 4, startOffset: 0 }], 'the current epoch keeps its start');
});
