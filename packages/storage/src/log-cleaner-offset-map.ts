/**
 * The cleaner's key -> latest offset map, Kafka's SkimpyOffsetMap: an open-addressing hash
 * table in one fixed buffer, so its memory is exactly what `log.cleaner.dedupe.buffer.size`
 * gives a cleaner thread, however many or large the keys are.
 *
 *   slot layout (24 bytes): MD5 of the key (16) | offset + 1 as float64 LE (8; 0 = empty)
 *
 * Keys are stored as their MD5 digest, as in Kafka: two keys with the same digest would be
 * taken for one (probability ~2^-64 per pair at the sizes used, the risk Kafka accepts).
 * Lookups and inserts probe linearly from the slot the digest's first four bytes name.
 * Like Kafka, the map is "full" at `log.cleaner.io.buffer.load.factor` (0.9) of its
 * slots, so probe chains stay short; the cleaner then stops the dirty section there.
 */
import { hash } from 'node:crypto';

/** MD5, Kafka's default `log.cleaner.hash.algorithm`. */
const HASH_BYTES = 16;
const OFFSET_BYTES = 8;
export const OFFSET_MAP_BYTES_PER_ENTRY = HASH_BYTES + OFFSET_BYTES;
/** Kafka's log.cleaner.io.buffer.load.factor: the share of slots filled before the map counts as full. */
export const OFFSET_MAP_LOAD_FACTOR = 0.9;

export class OffsetMap {
  private readonly buf: Buffer;
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
    this.buf = Buffer.alloc(this.slots * OFFSET_MAP_BYTES_PER_ENTRY);
  }

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  /** Records `offset` as the latest for `key` (offsets are put in increasing order). */
  put(key: Buffer, offset: number): void {
    const digest = hash('md5', key, 'buffer');
    let slot = digest.readUInt32BE(0) % this.slots;
    for (;;) {
      const at = slot * OFFSET_MAP_BYTES_PER_ENTRY;
      const stored = this.buf.readDoubleLE(at + HASH_BYTES);
      if (stored === 0) {
        digest.copy(this.buf, at);
        this.buf.writeDoubleLE(offset + 1, at + HASH_BYTES);
        this.count++;
        break;
      }
      if (digest.equals(this.buf.subarray(at, at + HASH_BYTES))) {
        this.buf.writeDoubleLE(offset + 1, at + HASH_BYTES);
        break;
      }
      slot = (slot + 1) % this.slots;
    }
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  /** The latest offset of `key`, or -1 when the map has none. */
  get(key: Buffer): number {
    const digest = hash('md5', key, 'buffer');
    let slot = digest.readUInt32BE(0) % this.slots;
    for (let probes = 0; probes < this.slots; probes++) {
      const at = slot * OFFSET_MAP_BYTES_PER_ENTRY;
      const stored = this.buf.readDoubleLE(at + HASH_BYTES);
      if (stored === 0) return -1;
      if (digest.equals(this.buf.subarray(at, at + HASH_BYTES))) return stored - 1;
      slot = (slot + 1) % this.slots;
    }
    return -1;
  }
}
