import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchCache, CacheBudget, retainable } from '../src/batch-cache.js';

function batch(base: number, size: number) {
  return { baseOffset: base, lastOffset: base, bytes: Buffer.alloc(size) };
}

test('a shared budget bounds the caches of many partitions, evicting the globally oldest first', () => {
  const budget = new CacheBudget(10_000);
  const caches = Array.from({ length: 100 }, () => new BatchCache(1024 * 1024, budget));
  // 100 partitions x 10 batches of 1,000 bytes = 1 MB offered, 10 KB allowed.
  for (let round = 0; round < 10; round++) {
    for (const cache of caches) cache.add(batch(round, 1000));
  }
  assert.ok(budget.sizeInBytes <= 10_000, `budget holds ${budget.sizeInBytes}`);
  const total = caches.reduce((n, c) => n + c.sizeInBytes, 0);
  assert.equal(total, budget.sizeInBytes, 'the budget counts exactly what the caches hold');
  // The last 10 batches added (round 9 of partitions 90..99) are what remains.
  for (let i = 0; i < 90; i++) assert.equal(caches[i]!.firstOffset(), null);
  for (let i = 90; i < 100; i++) assert.equal(caches[i]!.firstOffset(), 9);
  assert.equal(caches[95]!.read(9, 1 << 20, 100, true)?.bytes, 1000);
});

test('per-partition limits, truncation and clear release budget bytes', () => {
  const budget = new CacheBudget(1_000_000);
  const a = new BatchCache(2500, budget);
  for (let i = 0; i < 5; i++) a.add(batch(i, 1000));
  assert.equal(a.sizeInBytes, 2000);
  assert.equal(budget.sizeInBytes, 2000);
  a.truncateTo(4);
  assert.equal(budget.sizeInBytes, 1000);
  a.clear();
  assert.equal(budget.sizeInBytes, 0);
  // A batch larger than the whole budget is evicted at once and leaves nothing behind.
  const small = new CacheBudget(500);
  const b = new BatchCache(1 << 20, small);
  b.add(batch(0, 1000));
  assert.equal(small.sizeInBytes, 0);
  assert.equal(b.firstOffset(), null);
});

test('evicted batches are released at once, not when the array is next compacted', async () => {
  const cache = new BatchCache(4096);
  const refs: WeakRef<Buffer>[] = [];
  for (let i = 0; i < 20; i++) {
    const b = batch(i, 1024);
    refs.push(new WeakRef(b.bytes));
    cache.add(b);
  }
  assert.equal(cache.sizeInBytes, 4096);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    // Without --expose-gc, check the structure instead: only the live batches are referenced.
    const slots = (cache as unknown as { batches: { bytes: Buffer }[] }).batches;
    assert.equal(slots.filter((s) => s.bytes.length > 0).length, 4);
    return;
  }
  gc();
  await new Promise((r) => setTimeout(r, 0));
  gc();
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 4);
});

test('small batches that are slices of large buffers are cached as compact copies', () => {
  // A 1 KiB batch inside a 64 KiB socket read: kept as a view it would pin 64 KiB.
  const read = Buffer.alloc(64 * 1024, 7);
  read.write('batch-bytes', 1000);
  const view = read.subarray(1000, 2024);
  const kept = retainable(view);
  assert.notEqual(kept.buffer, read.buffer, 'copied out of the socket buffer');
  assert.ok(kept.buffer.byteLength <= 256 * 1024, 'into a shared slab');
  assert.deepEqual(kept, view, 'same bytes');
  // Consecutive small batches share one slab.
  const next = retainable(read.subarray(3000, 3500));
  assert.equal(next.buffer, kept.buffer);

  // A batch that is most of its buffer, or a large batch among a few, stays a view.
  const own = Buffer.allocUnsafeSlow(5000);
  assert.equal(retainable(own.subarray(0, 4000)).buffer, own.buffer);
  const request = Buffer.allocUnsafeSlow(1024 * 1024);
  assert.equal(retainable(request.subarray(0, 200 * 1024)).buffer, request.buffer, '1 of 5 partitions of a request');
  // ... but not when it would pin far more than itself.
  const huge = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
  assert.notEqual(retainable(huge.subarray(0, 100 * 1024)).buffer, huge.buffer);

  const cache = new BatchCache(1 << 20);
  cache.add({ baseOffset: 0, lastOffset: 0, bytes: view });
  const got = cache.read(0, 1 << 20, 10, true)!;
  assert.notEqual(got.buffers[0]!.buffer, read.buffer, 'the cache holds the copy');
  assert.deepEqual(got.buffers[0], view);
});

test('batches evicted by their partition limit do not stay queued in the shared budget', () => {
  // Six partitions at their own 10 KB limit under a budget that is never reached: the
  // budget's queue of batches used to grow by one entry per append, for ever.
  const budget = new CacheBudget(64 * 1024 * 1024);
  const caches = Array.from({ length: 6 }, () => new BatchCache(10_000, budget));
  for (let i = 0; i < 200_000; i++) caches[i % 6]!.add(batch(Math.floor(i / 6), 1000));
  const queued = (budget as unknown as { order: unknown[]; head: number });
  assert.ok(queued.order.length - queued.head <= 2 * 4096 + 60, `${queued.order.length - queued.head} entries queued for 60 cached batches`);
  assert.equal(budget.sizeInBytes, 60_000);
  // Eviction by the budget still goes oldest first after compactions.
  const tight = new CacheBudget(5_000);
  const cs = Array.from({ length: 3 }, () => new BatchCache(2_000, tight));
  for (let i = 0; i < 30_000; i++) cs[i % 3]!.add(batch(Math.floor(i / 3), 1000));
  assert.equal(tight.sizeInBytes, 5_000);
  // The last five batches added: 9998 of partitions 1 and 2, then 9999 of all three.
  assert.deepEqual(cs.map((c) => c.firstOffset()), [9999, 9998, 9998]);
});
