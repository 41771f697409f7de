/**
 * The cleaner's key -> latest offset map, Kafka's SkimpyOffsetMap: an open-addressing hash
 * table in one fixed buffer, so its memory is exactly what `log.cleaner.dedupe.buffer.size`
 * gives a cleaner thread, however many or large the keys are.
 *
 *   slot layout (24 bytes): MD5 of the key (16) | offset + 1 as float64 (8; 0 = empty)
 *
 * Keys are stored as their MD5 digest, as in Kafka: two keys with the same digest would be
 * taken for one (probability ~2^-64 per pair at the sizes used, the risk Kafka accepts).
 * Lookups and inserts probe linearly from the slot the digest's first word names.
 * Like Kafka, the map is "full" at `log.cleaner.io.buffer.load.factor` (0.9) of its
 * slots, so probe chains stay short; the cleaner then stops the dirty section there.
 *
 * The hot path takes a digest the caller computed with md5Into (log-cleaner-md5.ts) into
 * an Int32Array and compares it word by word with typed-array views of the table: no
 * allocation per key (the map holds millions of keys per clean).
 */
import { md5Into } from './log-cleaner-md5.js';

/** MD5, Kafka's default `log.cleaner.hash.algorithm`. */
const HASH_BYTES = 16;
const OFFSET_BYTES = 8;
export const OFFSET_MAP_BYTES_PER_ENTRY = HASH_BYTES + OFFSET_BYTES;
/** Kafka's log.cleaner.io.buffer.load.factor: the share of slots filled before the map counts as full. */
export const OFFSET_MAP_LOAD_FACTOR = 0.9;
/** int32 words per slot (the digest is the first four). */
const SLOT_WORDS = OFFSET_MAP_BYTES_PER_ENTRY / 4;
/** float64s per slot (the offset is the third). */
const SLOT_DOUBLES = OFFSET_MAP_BYTES_PER_ENTRY / 8;

export class OffsetMap {
  private readonly words: Int32Array;
  private readonly offsets: Float64Array;
  /** Digest scratch for put(key)/get(key). */
  private readonly digest = new Int32Array(4);
  readonly slots: number;
  /** Entries accepted before the map counts as full. */
  readonly maxEntries: number;
  private count = 0;
  /** Largest offset put in the map (-1 before any). */
  latestOffset = -1;

  /** A map of at most `memoryBytes` (at least one slot). */
  constructor(memoryBytes: number) {
    this.slots = Math.max(2, Math.floor(memoryBytes / OFFSET_MAP_BYTES_PER_ENTRY));
    this.maxEntries = Math.max(1, Math.floor(this.slots * OFFSET_MAP_LOAD_FACTOR));
    const table = new ArrayBuffer(this.slots * OFFSET_MAP_BYTES_PER_ENTRY);
    this.words = new Int32Array(table);
    this.offsets = new Float64Array(table);
  }

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  /** Records `offset` for `key` unless the map holds a later one. */
  put(key: Buffer, offset: number): void {
    md5Into(key, 0, key.length, this.digest);
    this.putDigest(this.digest, offset);
  }

  /** The latest offset of `key`, or -1 when the map has none. */
  get(key: Buffer): number {
    md5Into(key, 0, key.length, this.digest);
    return this.getDigest(this.digest);
  }

  /**
   * Records `offset` for the key whose MD5 is `d` (md5Into's four words) unless the map
   * holds a later one: a committed transaction's records are put when its marker is read,
   * after records of the same keys written later (log-cleaner-core.ts).
   */
  putDigest(d: Int32Array, offset: number): void {
    const slot = this.slotOf(d);
    // The caller keeps the map below its capacity, so a slot is always found.
    if (slot < 0) throw new Error('log cleaner offset map is full (the caller must stop at its capacity)');
    const o = slot * SLOT_DOUBLES + 2;
    const stored = this.offsets[o]!;
    if (stored === 0) {
      this.words.set(d.subarray(0, 4), slot * SLOT_WORDS);
      this.offsets[o] = offset + 1;
      this.count++;
    } else if (offset + 1 > stored) {
      this.offsets[o] = offset + 1;
    }
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  /** The latest offset of the key whose MD5 is `d`, or -1 when the map has none. */
  getDigest(d: Int32Array): number {
    const slot = this.slotOf(d);
    return slot < 0 ? -1 : this.offsets[slot * SLOT_DOUBLES + 2]! - 1;
  }

  /**
   * Linear probing from the digest's first word: the slot holding the key whose MD5 is `d`,
   * else the first empty slot on its probe path (stored offset 0), or -1 when every slot is
   * taken by other keys.
   */
  private slotOf(d: Int32Array): number {
    const words = this.words;
    const d0 = d[0]!;
    const d1 = d[1]!;
    const d2 = d[2]!;
    const d3 = d[3]!;
    let slot = (d0 >>> 0) % this.slots;
    for (let probes = 0; probes < this.slots; probes++) {
      if (this.offsets[slot * SLOT_DOUBLES + 2] === 0) return slot;
      const w = slot * SLOT_WORDS;
      if (words[w] === d0 && words[w + 1] === d1 && words[w + 2] === d2 && words[w + 3] === d3) return slot;
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
    return -1;
  }
}
