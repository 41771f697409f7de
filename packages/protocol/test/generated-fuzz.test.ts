/**
 * Untrusted bytes against every generated decoder at every version: random buffers, every
 * truncation of a valid encoding, and valid encodings with bytes flipped. The only error
 * allowed is ProtocolDecodeError; every decode must finish quickly (no hang) and the
 * decoders' length checks keep allocations proportional to the input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolDecodeError } from '../src/codec/errors.js';
import { Reader } from '../src/codec/reader.js';
import { Writer } from '../src/codec/writer.js';
import * as internal from '../src/internal/index.js';
import * as messages from '../src/messages/index.js';
import { messageSchemas, type MessageSchema } from '../src/messages/schemas.js';
import { randomBytes, randomStruct, seededRng, versionsOf, type Rng } from './generated-random.js';

type Decode = (r: Reader, v: number) => unknown;
type Encode = (w: Writer, v: number, m: unknown) => void;
const namespaces = { ...messages, ...internal } as unknown as Record<string, unknown>;

/** One decode may take this long at most (generous: the machine is shared and GC pauses); a decoder that loops on bad input fails here. */
const DECODE_TIME_MAX_MS = 1000;

function tryDecode(m: MessageSchema, v: number, decode: Decode, bytes: Buffer, what: string): boolean {
  const started = performance.now();
  try {
    decode(new Reader(bytes), v);
    return true;
  } catch (e) {
    if (!(e instanceof ProtocolDecodeError)) {
      assert.fail(`${m.name} v${v} (${what}, ${bytes.toString('hex').slice(0, 80)}): threw ${String(e)}`);
    }
    return false;
  } finally {
    const took = performance.now() - started;
    assert.ok(took < DECODE_TIME_MAX_MS, `${m.name} v${v} (${what}) took ${took.toFixed(1)} ms`);
  }
}

function mutate(rng: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  const flips = 1 + Math.floor(rng() * 3);
  for (let i = 0; i < flips && b.length > 0; i++) {
    const at = Math.floor(rng() * b.length);
    // Favour values that make lengths huge or negative.
    b[at] = rng() < 0.5 ? 0xff : Math.floor(rng() * 256);
  }
  return b;
}

test('random bytes, truncations and mutations raise only ProtocolDecodeError', { timeout: 60_000 }, () => {
  const rng = seededRng(0xf022);
  let decodes = 0;
  for (const m of messageSchemas) {
    const decode = namespaces[`decode${m.name}`] as Decode;
    const encode = namespaces[`encode${m.name}`] as Encode;
    for (const v of versionsOf(m)) {
      for (let i = 0; i < 8; i++) {
        const n = Math.floor(rng() * 48);
        tryDecode(m, v, decode, randomBytes(rng, n), 'random');
        // All 0xff: every length reads as -1 or as a huge value.
        tryDecode(m, v, decode, Buffer.alloc(n, i % 2 === 0 ? 0xff : 0x7f), 'saturated');
        decodes += 2;
      }
      const value = randomStruct(m.fields, v, rng, 0, m.flexibleVersions, { large: false });
      const w = new Writer();
      encode(w, v, value);
      const valid = w.finish();
      for (let len = 0; len < valid.length; len++) {
        // A strict prefix can never decode: the decoder reads the same bytes and then needs more.
        const ok = tryDecode(m, v, decode, valid.subarray(0, len), `truncated to ${len}`);
        assert.equal(ok, false, `${m.name} v${v}: prefix of ${len}/${valid.length} bytes decoded`);
        decodes++;
      }
      for (let i = 0; i < 6; i++) {
        tryDecode(m, v, decode, mutate(rng, valid), 'mutated');
        decodes++;
      }
    }
  }
  assert.ok(decodes > 10_000, `only ${decodes} decodes`);
});

test('a huge declared array or string is rejected without allocating it', () => {
  // Produce v3: transactionalId null, acks, timeout, then topic count 2^31-1 with no data.
  const bytes = Buffer.from([0xff, 0xff, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
  const before = process.memoryUsage().heapUsed;
  assert.throws(() => messages.decodeProduceRequest(new Reader(bytes), 3), ProtocolDecodeError);
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024);
  // Flexible Metadata v12: compact topic count 2^32-2.
  const flex = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
  assert.throws(() => messages.decodeMetadataRequest(new Reader(flex), 12), ProtocolDecodeError);
  // Unsupported versions are decode errors too.
  assert.throws(() => messages.decodeProduceRequest(new Reader(bytes), 99), ProtocolDecodeError);
  assert.throws(() => messages.decodeProduceRequest(new Reader(bytes), -1), ProtocolDecodeError);
});
