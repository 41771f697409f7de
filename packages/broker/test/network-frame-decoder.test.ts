import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameError } from '../src/network/frame-decoder.js';
import { FramePool, POOLED_FRAME_MAX_BYTES } from '../src/network/frame-pool.js';

function frame(body: string): Buffer {
  const b = Buffer.from(body);
  const out = Buffer.alloc(4 + b.length);
  out.writeInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

test('frames taken from a borrowed chunk, and what is left of it, survive reuse of its memory', () => {
  const shared = Buffer.alloc(64);
  const d = new FrameDecoder(1024);
  // One read: a whole frame, then the first 6 bytes of the next.
  const bytes = Buffer.concat([frame('hello'), frame('world!')]);
  const firstRead = bytes.length - 4;
  bytes.copy(shared, 0, 0, firstRead);
  d.push(shared.subarray(0, firstRead), true);
  const first = d.next();
  assert.ok(Buffer.isBuffer(first));
  assert.equal(first.toString(), 'hello');
  assert.notEqual(first.buffer, shared.buffer, 'a frame of a borrowed chunk is a copy');
  assert.equal(d.next(), null);
  shared.fill(0xee); // the next read overwrites the shared buffer
  assert.equal(first.toString(), 'hello');
  bytes.copy(shared, 0, firstRead);
  d.push(shared.subarray(0, bytes.length - firstRead), true);
  const second = d.next();
  assert.ok(Buffer.isBuffer(second));
  assert.equal(second.toString(), 'world!');
  assert.equal(d.bufferedBytes, 0);
});

test('a frame spanning a borrowed chunk and the next one is assembled into its own buffer', () => {
  const shared = Buffer.alloc(64);
  const d = new FrameDecoder(1024);
  const bytes = frame('abcdefgh');
  bytes.copy(shared, 0, 0, 7);
  d.push(shared.subarray(0, 7), true);
  assert.equal(d.next(), null);
  shared.fill(0); // the push copied what it kept of the borrowed bytes
  d.push(Buffer.from(bytes.subarray(7)));
  const got = d.next();
  assert.ok(Buffer.isBuffer(got));
  assert.equal(got.toString(), 'abcdefgh');
  assert.notEqual(got.buffer, shared.buffer);
});

test('owned chunks are still framed without copies, and bad sizes are FrameErrors', () => {
  const d = new FrameDecoder(16);
  const owned = Buffer.concat([frame('abc'), frame('de')]);
  d.push(owned);
  const a = d.next();
  assert.ok(Buffer.isBuffer(a));
  assert.equal(a.buffer, owned.buffer, 'a slice of the chunk');
  assert.equal(d.next()?.toString(), 'de');
  const big = Buffer.alloc(4);
  big.writeInt32BE(17, 0);
  d.push(big, true);
  assert.ok(d.next() instanceof FrameError);
});

test('every split of a byte stream gives the same frames, whatever the chunk sizes', () => {
  const bodies = ['a', '', 'hello world', 'x'.repeat(300), 'yz'];
  const stream = Buffer.concat(bodies.map(frame));
  for (const borrowed of [true, false]) {
    for (let step = 1; step <= stream.length; step++) {
      const d = new FrameDecoder(1024);
      const got: string[] = [];
      const shared = Buffer.alloc(step);
      for (let at = 0; at < stream.length; at += step) {
        const n = Math.min(step, stream.length - at);
        let chunk: Buffer;
        if (borrowed) {
          stream.copy(shared, 0, at, at + n);
          chunk = shared.subarray(0, n);
        } else {
          chunk = Buffer.from(stream.subarray(at, at + n));
        }
        d.push(chunk, borrowed);
        if (borrowed) shared.fill(0xaa);
        for (let f = d.next(); f !== null; f = d.next()) {
          assert.ok(Buffer.isBuffer(f));
          got.push(f.toString());
        }
      }
      assert.deepEqual(got, bodies, `step ${step}, borrowed ${borrowed}`);
      assert.equal(d.bufferedBytes, 0);
    }
  }
});

test('frames before a bad size are delivered, then the FrameError, and nothing after it', () => {
  const d = new FrameDecoder(16);
  const bad = Buffer.alloc(4);
  bad.writeInt32BE(-1, 0);
  d.push(Buffer.concat([frame('ok'), bad, frame('never')]), true);
  assert.equal((d.next() as Buffer).toString(), 'ok');
  assert.ok(d.next() instanceof FrameError);
  assert.equal(d.next(), null);
  d.push(frame('more'), true);
  assert.equal(d.next(), null);
});

test('a frame is allocated whole when its size prefix arrives; a frame too large for that is gathered as it comes', () => {
  const sizes: number[] = [];
  const d = new FrameDecoder(POOLED_FRAME_MAX_BYTES * 4, (size) => {
    sizes.push(size);
    return Buffer.allocUnsafeSlow(size);
  });
  const body = 'q'.repeat(1000);
  const bytes = frame(body);
  d.push(bytes.subarray(0, 10), true);
  assert.deepEqual(sizes, [1000], 'allocated as soon as the size is known');
  d.push(bytes.subarray(10), true);
  assert.equal((d.next() as Buffer).toString(), body);
  const large = Buffer.alloc(4 + POOLED_FRAME_MAX_BYTES + 1, 7);
  large.writeInt32BE(POOLED_FRAME_MAX_BYTES + 1, 0);
  d.push(large.subarray(0, 100), true);
  assert.equal(d.bufferedBytes, 100);
  d.push(large.subarray(100), true);
  const got = d.next() as Buffer;
  assert.equal(got.length, POOLED_FRAME_MAX_BYTES + 1);
  assert.ok(got.every((b) => b === 7));
  assert.deepEqual(sizes, [1000], 'the large frame did not come from the allocator');
});

test('the frame pool reuses what it is given, by size class, and ignores memory it did not make', () => {
  const pool = new FramePool();
  const a = pool.take(1500);
  assert.equal(a.length, 1500);
  assert.equal(a.buffer.byteLength, 2048);
  pool.give(a);
  const b = pool.take(2000);
  assert.equal(b.buffer, a.buffer, 'same class: reused');
  assert.equal(pool.reused, 1);
  const c = pool.take(2000);
  assert.notEqual(c.buffer, b.buffer, 'the free list was empty: a new buffer');
  pool.give(Buffer.alloc(2048));
  pool.give(b.subarray(1));
  assert.equal(pool.idleBytes, 0, 'foreign buffers and slices are not pooled');
  const small = pool.take(1);
  assert.equal(small.buffer.byteLength, 1024);
  const huge = pool.take(POOLED_FRAME_MAX_BYTES + 1);
  pool.give(huge);
  assert.equal(pool.idleBytes, 0, 'frames above the largest class are never pooled');
  for (let i = 0; i < 10; i++) pool.give(pool.take(POOLED_FRAME_MAX_BYTES));
  const held = [pool.take(POOLED_FRAME_MAX_BYTES), pool.take(POOLED_FRAME_MAX_BYTES)];
  for (const h of held) pool.give(h);
  assert.equal(pool.idleBytes, POOLED_FRAME_MAX_BYTES, 'idle memory per class is bounded');
});

test('the frame pool holds at most 8 MiB idle over all its classes', () => {
  const pool = new FramePool();
  const taken: Buffer[] = [];
  for (let shift = 10; shift <= 21; shift++) for (let i = 0; i < 64; i++) taken.push(pool.take(1 << shift));
  for (const b of taken) pool.give(b);
  assert.ok(pool.idleBytes <= 8 * 1024 * 1024, `idle ${pool.idleBytes}`);
  assert.ok(pool.idleBytes >= 6 * 1024 * 1024, `idle ${pool.idleBytes}`);
  const again = pool.take(1024);
  assert.equal(again.buffer.byteLength, 1024);
  assert.equal(pool.reused, 1);
});

test('FramePool.spareBytesAfter: the room past a pool frame in its own buffer; none for memory the pool did not make', () => {
  const pool = new FramePool();
  const frame = pool.take(3000);
  assert.equal(pool.spareBytesAfter(frame), 4096 - 3000);
  assert.equal(pool.spareBytesAfter(frame.subarray(100)), 4096 - 3000);
  assert.equal(pool.spareBytesAfter(Buffer.allocUnsafe(100)), 0, 'a slice of Node\'s shared slab');
  assert.equal(pool.spareBytesAfter(Buffer.allocUnsafeSlow(100)), 0);
});

test('FrameDecoder in-place reads: the rest of a preallocated frame is offered as a target and completes the frame when filled', () => {
  const decoder = new FrameDecoder(1 << 20, (size) => Buffer.alloc(size));
  assert.equal(decoder.inPlaceTarget(), null, 'no frame between frames');
  const body = Buffer.from('0123456789abcdef');
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length, 0);
  decoder.push(Buffer.concat([prefix, body.subarray(0, 5)]), true);
  const target = decoder.inPlaceTarget();
  assert.ok(target !== null);
  assert.equal(target.length, body.length - 5);
  body.copy(target, 0, 5, 12);
  decoder.filledInPlace(7);
  assert.equal(decoder.next(), null, 'not complete yet');
  const rest = decoder.inPlaceTarget()!;
  assert.equal(rest.length, 4);
  body.copy(rest, 0, 12);
  decoder.filledInPlace(4);
  assert.deepEqual(decoder.next(), body);
  assert.equal(decoder.inPlaceTarget(), null);
  assert.throws(() => decoder.filledInPlace(1), /no buffer/);
});
