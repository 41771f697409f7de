/**
 * Seeded random instances of any generated message at any version, driven by the spec
 * metadata the generator writes (src/messages/schemas.ts), and the normalisation that
 * turns an instance into what the decoder must return (absent fields at their defaults).
 * Test support only: nothing in src/ imports it.
 */
import type { FieldSchema, MessageSchema, VersionRange } from '../src/messages/schemas.js';

export type Rng = () => number;

/** mulberry32: small, fast, and good enough to pick test values. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function inRange(r: VersionRange | null, v: number): boolean {
  return r !== null && v >= r[0] && v <= r[1];
}

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

const ALPHABET = ['a', 'b', 'Z', '0', '-', '.', '_', ' ', 'é', 'ß', '日', '本', '🚀'];

function randomString(rng: Rng): string {
  const n = int(rng, 0, 8);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[int(rng, 0, ALPHABET.length - 1)];
  return s;
}

export function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 0, 255);
  return b;
}

function randomInt64(rng: Rng): number {
  const pick = rng();
  if (pick < 0.2) return -1;
  if (pick < 0.3) return Number.MAX_SAFE_INTEGER;
  if (pick < 0.4) return Number.MIN_SAFE_INTEGER;
  if (pick < 0.7) return int(rng, -1000, 1_000_000);
  return Math.floor((rng() * 2 - 1) * Number.MAX_SAFE_INTEGER);
}

export interface RandomOptions {
  /** Allow record/bytes values of 2 KiB (exercises Writer.bytesRef). */
  large: boolean;
}

function randomPrim(type: string, rng: Rng, opts: RandomOptions): unknown {
  switch (type) {
    case 'int8': return int(rng, -128, 127);
    case 'int16': return int(rng, -32768, 32767);
    case 'int32': return rng() < 0.2 ? -1 : int(rng, -2147483648, 2147483647);
    case 'uint16': return int(rng, 0, 65535);
    case 'uint32': return int(rng, 0, 4294967295);
    case 'int64': return randomInt64(rng);
    case 'float64': return rng() < 0.1 ? 0 : (rng() - 0.5) * 1e6;
    case 'bool': return rng() < 0.5;
    case 'string': return randomString(rng);
    case 'uuid': return randomBytes(rng, 16).toString('base64url');
    case 'bytes':
    case 'records':
      return randomBytes(rng, opts.large && rng() < 0.1 ? 2048 : int(rng, 0, 12));
    default:
      throw new Error(`unknown type ${type}`);
  }
}

function randomValue(f: FieldSchema, v: number, rng: Rng, depth: number, flexMsg: VersionRange | null, opts: RandomOptions): unknown {
  const nullable = inRange(f.nullable, v);
  if (nullable && rng() < 0.2) return null;
  if (f.array) {
    const n = depth > 3 ? 0 : int(rng, 0, 3);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      out.push(f.type === 'struct' ? randomStruct(f.fields!, v, rng, depth + 1, flexMsg, opts) : randomPrim(f.type, rng, opts));
    }
    return out;
  }
  if (f.type === 'struct') return randomStruct(f.fields!, v, rng, depth + 1, flexMsg, opts);
  return randomPrim(f.type, rng, opts);
}

/** Random struct for version v; fields absent from v are sometimes set anyway (must be ignored). */
export function randomStruct(
  fields: readonly FieldSchema[], v: number, rng: Rng, depth: number, flexMsg: VersionRange | null, opts: RandomOptions,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    const present = inRange(f.versions, v);
    if (!present) {
      if (rng() < 0.1 && f.type !== 'struct') o[f.name] = randomValue(f, v, rng, depth, flexMsg, opts);
      continue;
    }
    if (inRange(f.tagged, v) && rng() < 0.3) continue;
    o[f.name] = randomValue(f, v, rng, depth, flexMsg, opts);
  }
  if (inRange(flexMsg, v) && rng() < 0.2) {
    const n = int(rng, 1, 2);
    const tags: { tag: number; data: Buffer }[] = [];
    for (let i = 0; i < n; i++) tags.push({ tag: 1000 + i * int(rng, 1, 200), data: randomBytes(rng, int(rng, 0, 5)) });
    o.unknownTaggedFields = tags;
  }
  return o;
}

export function defaultValue(f: FieldSchema): unknown {
  if (f.default === 'EMPTY_BYTES') return Buffer.alloc(0);
  if (f.default === 'STRUCT') return defaultStruct(f.fields!);
  if (Array.isArray(f.default)) return [];
  return f.default;
}

function defaultStruct(fields: readonly FieldSchema[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) o[f.name] = defaultValue(f);
  return o;
}

/** What the decoder must return for `value` encoded at version v. */
export function normalize(
  fields: readonly FieldSchema[], v: number, value: Record<string, unknown>, flexMsg: VersionRange | null,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    const x = value[f.name];
    if (!inRange(f.versions, v) || x === undefined) {
      o[f.name] = defaultValue(f);
    } else if (f.type === 'struct' && x !== null) {
      o[f.name] = f.array
        ? (x as Record<string, unknown>[]).map((e) => normalize(f.fields!, v, e, flexMsg))
        : normalize(f.fields!, v, x as Record<string, unknown>, flexMsg);
    } else {
      o[f.name] = x;
    }
  }
  const u = value.unknownTaggedFields as unknown[] | undefined;
  if (inRange(flexMsg, v) && u !== undefined && u.length > 0) o.unknownTaggedFields = u;
  return o;
}

export function versionsOf(m: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = m.validVersions[0]; v <= m.validVersions[1]; v++) out.push(v);
  return out;
}
