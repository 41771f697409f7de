import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameError } from '../src/network/frame-decoder.js';

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
  d.detach();
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
  // The next push detaches the borrowed bytes before the shared buffer is read into again.
  d.push(Buffer.from(bytes.subarray(7)));
  shared.fill(0);
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
