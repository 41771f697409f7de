// The recent-appends cache (recent-appends.ts): a log reading its latest appends from
// memory answers every read exactly as one reading them from its files, owns its bytes, and
// stays within its per-partition and broker-wide bounds, counted in whole chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkHolds, LogManager, assembleRecords, RecentAppends, RecentAppendsBudget, chunkPool, fromProperties, isRecentAppendsBuffer } from '@tributary/storage';
import { CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CHUNK_POOL_MAX } from '../src/recent-appends.js';
import type { Log, ReadResult } from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';
import { seededRng } from '../../protocol/test/generated-random.js';

async function open(dataDir: string): Promise<LogManager> {
  return LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
}


function flat(r: ReadResult): { kind: string; bytes?: Buffer; size?: number; next?: number } {
  if (r.kind !== 'ok') return { kind: r.kind };
  return { kind: r.kind, bytes: Buffer.concat(r.records), size: r.sizeInBytes, next: r.nextFetchOffset };
}

test('reads served from memory equal reads from the files, through appends, truncations, segment rolls and evictions', async (t) => {
  const m = await open(tempDir(t));
  const config = fromProperties({ 'segment.bytes': '4000', 'index.interval.bytes': '200' });
  for (const seed of [1, 2, 3]) {
    const random = seededRng(seed);
    const cached = m.createLog('cached', seed, config);
    const files = m.createLog('files', seed, config);
    const budget = new RecentAppendsBudget(1 << 20);
    // Small enough that evictions happen all the time.
    cached.keepRecentAppends(new RecentAppends(budget, 1500 + Math.floor(random() * 2000)));
    let served = 0;
    for (let step = 0; step < 400; step++) {
      const op = random();
      if (op < 0.45) {
        const n = 1 + Math.floor(random() * 3);
        const parts = Array.from({ length: n }, (_, i) => makeBatch({ timestamps: Array.from({ length: 1 + Math.floor(random() * 4) }, (_, k) => step * 10 + k), valueBytes: 20 + Math.floor(random() * 200), fill: i }));
        const appended = Buffer.concat(parts);
        cached.append(Buffer.from(appended), { leaderEpoch: 3 });
        files.append(appended, { leaderEpoch: 3 });
      } else if (op < 0.5 && files.logEndOffset > 0) {
        const to = Math.floor(random() * files.logEndOffset);
        cached.truncateTo(to);
        files.truncateTo(to);
      } else {
        const end = files.logEndOffset;
        const from = Math.floor(random() * (end + 2));
        let maxBytes = Math.floor(random() * 1500);
        if (random() < 0.3) {
          // Exactly the bytes of some whole batches: the boundary case of the byte limit.
          const whole = files.read(from, maxBytes, { minOneBatch: true });
          if (whole.kind === 'ok') maxBytes = whole.sizeInBytes;
        }
        const maxOffset = random() < 0.3 ? Math.floor(random() * (end + 1)) : undefined;
        const minOneBatch = random() < 0.5;
        const first = cached.recentAppends!.firstOffset;
        if (first >= 0 && from >= first && from < (maxOffset ?? end)) served++;
        const options = { minOneBatch, ...(maxOffset === undefined ? {} : { maxOffset }) };
        assert.deepEqual(flat(cached.read(from, maxBytes, options)), flat(files.read(from, maxBytes, options)), `seed ${seed} step ${step}: read(${from}, ${maxBytes}, ${JSON.stringify(options)})`);
      }
      assert.ok(cached.recentAppends!.sizeInBytes <= cached.recentAppends!.maxBytes);
      assert.equal(budget.usedBytes, cached.recentAppends!.sizeInBytes);
    }
    assert.ok(served > 20, `seed ${seed}: only ${served} reads were served from memory`);
  }
  await m.close();
});

test('the cache owns its bytes: the appended buffer (a pooled request frame) may be reused at once', async (t) => {
  const m = await open(tempDir(t));
  const log = m.createLog('t', 0);
  const budget = new RecentAppendsBudget(1 << 20);
  log.keepRecentAppends(new RecentAppends(budget, 1 << 20));
  const frame = makeBatch({ timestamps: [1, 2], valueBytes: 50 });
  log.append(frame, { leaderEpoch: 0 });
  const written = Buffer.from(frame);
  frame.fill(0xee);
  const r = log.read(0, 1 << 20);
  assert.ok(r.kind === 'ok');
  assert.deepEqual(Buffer.concat(r.records), written);
  assert.equal(r.position, -1, 'served from memory');
  await m.close();
  assert.equal(budget.usedBytes, 0, 'a closed log gives its bytes back');
});

test('bounds, in whole chunks: per partition, broker-wide (the first partition keeps what fits, the next reads files), released once fetched', async (t) => {
  const m = await open(tempDir(t));
  const batch = () => makeBatch({ timestamps: [1], valueBytes: 900 });
  const size = batch().length;
  const budget = new RecentAppendsBudget(5 * size);
  const a = m.createLog('a', 0);
  const b = m.createLog('b', 0);
  // A bound below CHUNK_BYTES_MIN: one chunk of the whole bound, 3 appends.
  a.keepRecentAppends(new RecentAppends(budget, 3 * size));
  b.keepRecentAppends(new RecentAppends(budget, 3 * size));
  for (let i = 0; i < 5; i++) a.append(batch(), { leaderEpoch: 0 });
  assert.equal(a.recentAppends!.sizeInBytes, 3 * size, 'one chunk, the partition bound');
  assert.equal(a.recentAppends!.firstOffset, 3, 'the full chunk (offsets 0-2) left whole when the next did not fit beside it');
  for (let i = 0; i < 3; i++) b.append(batch(), { leaderEpoch: 0 });
  assert.equal(b.recentAppends!.sizeInBytes, 0, 'the broker budget has no room for a second chunk');
  assert.equal(b.recentAppends!.firstOffset, -1);
  assert.equal(budget.usedBytes, 3 * size);
  const fromFiles = b.read(0, 1 << 20);
  assert.ok(fromFiles.kind === 'ok' && fromFiles.position >= 0 && fromFiles.nextFetchOffset === 3, 'b reads its files');
  a.recentAppends!.releaseBelow(4);
  assert.equal(a.recentAppends!.firstOffset, 4, 'appends every follower has fetched are dropped');
  const read = a.read(4, 1 << 20);
  assert.ok(read.kind === 'ok' && read.position === -1 && read.nextFetchOffset === 5);
  const older = a.read(2, 1 << 20);
  assert.ok(older.kind === 'ok' && older.position >= 0 && older.nextFetchOffset === 5, 'an older offset reads the files');
  a.append(batch(), { leaderEpoch: 0 });
  a.append(batch(), { leaderEpoch: 0 });
  assert.equal(a.recentAppends!.firstOffset, 6, 'offset 5 filled the chunk; 6 went into a new one, and the old chunk left with 4 and 5');
  a.recentAppends!.releaseBelow(7);
  assert.equal(a.recentAppends!.firstOffset, -1);
  assert.equal(budget.usedBytes, 3 * size, 'the chunk appends still go into stays');
  a.keepRecentAppends(undefined);
  b.keepRecentAppends(undefined);
  assert.equal(budget.usedBytes, 0);
  await m.close();
});

test('appends go back to back into chunks: a read of several appends is one slice; chunks start small and grow as they fill', async (t) => {
  const m = await open(tempDir(t));
  const log = m.createLog('t', 0);
  const budget = new RecentAppendsBudget(64 << 20);
  log.keepRecentAppends(new RecentAppends(budget, 1 << 20));
  const batch = () => makeBatch({ timestamps: [1, 2], valueBytes: 1000 });
  const size = batch().length;
  for (let i = 0; i < 5; i++) log.append(batch(), { leaderEpoch: 0 });
  const r = log.read(0, 1 << 20);
  assert.ok(r.kind === 'ok' && r.position === -1);
  assert.equal(r.records.length, 1, 'five appends, one slice');
  assert.equal(r.sizeInBytes, 5 * size);
  assert.ok(isRecentAppendsBuffer(r.records[0]!));
  assert.equal(budget.usedBytes, CHUNK_BYTES_MIN, 'the first chunk is small');
  // Fill the first chunk: the next is twice as large, and a read across both is two slices.
  const perChunk = Math.floor(CHUNK_BYTES_MIN / size);
  for (let i = 5; i < perChunk + 1; i++) log.append(batch(), { leaderEpoch: 0 });
  assert.equal(budget.usedBytes, 3 * CHUNK_BYTES_MIN);
  const across = log.read(0, 1 << 20);
  assert.ok(across.kind === 'ok' && across.records.length === 2 && across.sizeInBytes === (perChunk + 1) * size);
  assert.ok(!isRecentAppendsBuffer(Buffer.alloc(10)));
  await m.close();
  assert.equal(budget.usedBytes, 0);
});

test('a log whose appends are not all cached never serves a read from memory past a gap', async (t) => {
  const m = await open(tempDir(t));
  const log: Log = m.createLog('t', 0);
  const big = makeBatch({ timestamps: [1], valueBytes: 3000 });
  const small = () => makeBatch({ timestamps: [1], valueBytes: 10 });
  log.keepRecentAppends(new RecentAppends(new RecentAppendsBudget(1 << 20), 1000));
  log.append(small(), { leaderEpoch: 0 });
  log.append(big, { leaderEpoch: 0 });
  assert.equal(log.recentAppends!.firstOffset, -1, 'an append larger than the bound empties the cache');
  log.append(small(), { leaderEpoch: 0 });
  assert.equal(log.recentAppends!.firstOffset, 2);
  const r = log.read(1, 1 << 20);
  assert.ok(r.kind === 'ok' && r.nextFetchOffset === 3 && r.sizeInBytes === big.length + small().length);
  await m.close();
});

// ------------------------------------------------------------------ chunk reuse (issue 15)

/** One append of about `bytes` (a single batch of 1 KiB records), its values all `fill`. */
function appendOf(bytes: number, fill: number, ts: number): Buffer {
  const n = Math.max(1, Math.round(bytes / 1024));
  return makeBatch({ timestamps: Array.from({ length: n }, (_, k) => ts + k), valueBytes: 1000, fill: fill & 0xff });
}

/** A leader-like log keeping its recent appends with the production bounds (1 MiB per partition). */
async function pooledLog(t: Parameters<typeof tempDir>[0], name: string): Promise<Log> {
  const m = await open(tempDir(t));
  const log = m.createLog(name, 0, fromProperties({}));
  log.keepRecentAppends(new RecentAppends(new RecentAppendsBudget(64 << 20), 1 << 20));
  return log;
}

test('chunk reuse: a chunk goes back to the pool only once the cache dropped it and every hold on it was released; held bytes never change', async (t) => {
  chunkPool.reset();
  const log = await pooledLog(t, 'pooled');
  const random = seededRng(15);
  // Reads that took holds, with a copy of their bytes made at read time.
  const outstanding: { holds: ChunkHolds; records: Buffer[]; copy: Buffer }[] = [];
  const check = (step: number) => {
    for (const o of outstanding) assert.ok(Buffer.concat(o.records).equals(o.copy), `step ${step}: a held read's bytes changed`);
  };
  let served = 0;
  for (let step = 0; step < 1500; step++) {
    const op = random();
    if (op < 0.4) {
      log.append(appendOf(4096 + Math.floor(random() * 60_000), step, step * 100), { leaderEpoch: 1 });
    } else if (op < 0.7) {
      const recent = log.recentAppends!;
      const first = recent.firstOffset;
      if (first < 0) continue;
      const from = first + Math.floor(random() * (log.logEndOffset - first));
      const holds = new ChunkHolds();
      const read = log.read(from, Math.floor(random() * 600_000), { minOneBatch: true, holds });
      assert.equal(read.kind, 'ok');
      if (read.kind !== 'ok' || read.records.length === 0) continue;
      served++;
      assert.ok(holds.size >= 1, 'a read served from memory holds its chunks');
      outstanding.push({ holds, records: read.records, copy: Buffer.concat(read.records) });
    } else if (op < 0.85 && outstanding.length > 0) {
      const [o] = outstanding.splice(Math.floor(random() * outstanding.length), 1);
      o!.holds.release();
      if (random() < 0.2) o!.holds.release(); // a second release releases nothing
    } else if (op < 0.97) {
      // Followers fetched up to here: the cache drops what is below.
      log.recentAppends!.releaseBelow(Math.floor(random() * (log.logEndOffset + 1)));
    } else if (log.logEndOffset > 0) {
      log.truncateTo(Math.floor(random() * log.logEndOffset)); // clears the cache
    }
    check(step);
  }
  assert.ok(served > 300, `reads served from memory: ${served}`);
  assert.ok(chunkPool.reused > 20, `chunks reused: ${chunkPool.reused} (allocated ${chunkPool.allocated})`);
  for (const o of outstanding) o.holds.release();
  log.recentAppends!.clear();
  assert.ok(chunkPool.freeChunks <= CHUNK_POOL_MAX, 'the free list is bounded');
});

test('chunk reuse: a read without holds pins its chunks (never reused); a released hold makes a dropped chunk reusable', async (t) => {
  chunkPool.reset();
  const log = await pooledLog(t, 'pinned');
  // Grow to full-size chunks (16, 32, 64, 128 KiB, then 256 KiB).
  let ts = 0;
  while (log.recentAppends!.sizeInBytes < CHUNK_BYTES_MAX * 2) log.append(appendOf(8192, 1, (ts += 100)), { leaderEpoch: 1 });
  const end = log.logEndOffset;
  const pinned = log.read(end - 1, 100_000, { minOneBatch: true });
  assert.ok(pinned.kind === 'ok' && pinned.records.length === 1);
  const pinnedSlice = pinned.records[0]!;
  const pinnedCopy = Buffer.from(pinnedSlice);
  const holds = new ChunkHolds();
  const held = log.read(end - 1, 100_000, { minOneBatch: true, holds });
  assert.ok(held.kind === 'ok' && held.records[0]!.buffer === pinnedSlice.buffer, 'the same chunk');
  assert.equal(pinnedSlice.buffer.byteLength, CHUNK_BYTES_MAX, 'a full-size (pooled) chunk');
  // The cache drops everything; the pinned chunk is not reused, even once the hold goes.
  log.recentAppends!.clear();
  holds.release();
  assert.ok(isRecentAppendsBuffer(pinnedSlice), 'still a chunk of its own, never handed out again');
  for (let i = 0; i < 200; i++) log.append(appendOf(30_000, 2, (ts += 100)), { leaderEpoch: 1 });
  assert.ok(pinnedSlice.equals(pinnedCopy), 'a pinned slice keeps its bytes while the log goes on');

  // Held, not pinned: reusable once the cache dropped it and the hold was released, not before.
  const holds2 = new ChunkHolds();
  const r = log.read(log.logEndOffset - 1, 100_000, { minOneBatch: true, holds: holds2 });
  assert.ok(r.kind === 'ok');
  const slice = r.records[0]!;
  const free = chunkPool.freeChunks;
  log.recentAppends!.clear();
  assert.ok(isRecentAppendsBuffer(slice), 'dropped by the cache but held: not back in the pool');
  holds2.release();
  assert.ok(!isRecentAppendsBuffer(slice), 'released: back in the pool');
  const afterRelease = chunkPool.freeChunks;
  assert.ok(afterRelease > free);
  holds2.release();
  assert.equal(chunkPool.freeChunks, afterRelease, 'a second release gives nothing back again');
});

test('chunk reuse: a read spanning two chunks is assembled in a pooled chunk it holds, equal to the concatenation', async (t) => {
  chunkPool.reset();
  const log = await pooledLog(t, 'span');
  let ts = 0;
  while (log.recentAppends!.sizeInBytes < CHUNK_BYTES_MAX * 3) log.append(appendOf(20_000, ts, (ts += 100)), { leaderEpoch: 1 });
  const first = log.recentAppends!.firstOffset;
  // Find a fetch offset whose read crosses a chunk boundary.
  for (let from = first; from < log.logEndOffset; from += 20) {
    const plain = log.read(from, 200_000, { minOneBatch: true });
    if (plain.kind !== 'ok' || plain.records.length < 2) continue;
    const holds = new ChunkHolds();
    const read = log.read(from, 200_000, { minOneBatch: true, holds });
    assert.ok(read.kind === 'ok');
    const one = assembleRecords(read.records, read.sizeInBytes, holds);
    assert.ok(one.equals(Buffer.concat(plain.records)));
    assert.equal(one.buffer.byteLength, CHUNK_BYTES_MAX, 'assembled in a pooled chunk');
    assert.equal(holds.size, read.records.length + 1, 'holds: both chunks read and the assembled one');
    assert.ok(isRecentAppendsBuffer(one));
    holds.release();
    assert.ok(!isRecentAppendsBuffer(one), 'the assembled chunk goes back once released');
    // Without holds (no one will release): concatenated as before.
    assert.ok(!isRecentAppendsBuffer(assembleRecords(plain.records, plain.sizeInBytes, undefined)));
    return;
  }
  assert.fail('no read crossed a chunk boundary');
});
