import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchCache, CacheBudget } from '../src/batch-cache.js';

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
