/**
 * Sparse offset index of one segment (`.index`), Kafka's layout: entries of 8 bytes,
 *
 *   0  relativeOffset int32   offset - segment baseOffset (of a batch's last offset)
 *   4  position       int32   file position of that batch in the .log
 *
 * sorted by both fields. One entry is added per index.interval.bytes of appended log, so
 * a lookup finds the last entry at or below the target and scans at most that many bytes.
 * The file holds at most segment.index.bytes / 8 entries; a full index rolls the segment.
 */
import { assertBelow } from '@tributary/protocol';
import { grow, persistIndexFile, persistIndexFileDurably } from './index-file.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;

export interface OffsetPosition { offset: number; position: number }

export class OffsetIndex {
  readonly baseOffset: number;
  readonly maxEntries: number;
  private relOffsets = new Int32Array(0);
  private positions = new Int32Array(0);
  private count = 0;
  /** Bytes at the start of the file known to equal the in-memory entries. */
  private persistedBytes = 0;

  constructor(baseOffset: number, maxIndexBytes: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.max(1, Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_SIZE));
  }

  /**
   * Builds an index from file bytes, or returns why they cannot be trusted: a size that is
   * not a whole number of entries, entries out of order, or positions past the log's end.
   */
  static fromBytes(bytes: Buffer, baseOffset: number, maxIndexBytes: number, logSize: number): OffsetIndex | string {
    if (bytes.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return `size ${bytes.length} is not a multiple of ${OFFSET_INDEX_ENTRY_SIZE}`;
    const index = new OffsetIndex(baseOffset, maxIndexBytes);
    const n = bytes.length / OFFSET_INDEX_ENTRY_SIZE;
    if (n > index.maxEntries) return `${n} entries exceed the maximum ${index.maxEntries}`;
    let prevRel = -1;
    let prevPos = -1;
    for (let i = 0; i < n; i++) {
      const rel = bytes.readInt32BE(i * 8);
      const pos = bytes.readInt32BE(i * 8 + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= logSize) {
        return `entry ${i} (relative offset ${rel}, position ${pos}) is out of order or past the log size ${logSize}`;
      }
      prevRel = rel;
      prevPos = pos;
      index.append(baseOffset + rel, pos);
    }
    index.persistedBytes = bytes.length;
    return index;
  }

  get entries(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  lastEntry(): OffsetPosition | null {
    if (this.count === 0) return null;
    return { offset: this.baseOffset + this.relOffsets[this.count - 1]!, position: this.positions[this.count - 1]! };
  }

  /**
   * Appends an entry; entries must increase in both offset and position (callers index
   * batches in log order; fromBytes validates a file's entries first). Ignored when full.
   */
  append(offset: number, position: number): void {
    if (this.isFull()) return;
    const rel = offset - this.baseOffset;
    if (this.count > 0) {
      assertBelow(this.relOffsets[this.count - 1]!, rel, 'offset index entries increase in offset');
      assertBelow(this.positions[this.count - 1]!, position, 'offset index entries increase in position');
    }
    this.relOffsets = grow(this.relOffsets, this.count + 1, (n) => new Int32Array(n));
    this.positions = grow(this.positions, this.count + 1, (n) => new Int32Array(n));
    this.relOffsets[this.count] = rel;
    this.positions[this.count] = position;
    this.count++;
  }

  /** The last entry whose offset is <= target, or the segment start when there is none. */
  lookup(targetOffset: number): OffsetPosition {
    const rel = targetOffset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relOffsets[mid]! <= rel) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 };
    return { offset: this.baseOffset + this.relOffsets[found]!, position: this.positions[found]! };
  }

  /** Drops entries for offsets >= targetOffset or positions >= position (log truncation). */
  truncate(targetOffset: number, position: number): void {
    while (this.count > 0 && (this.baseOffset + this.relOffsets[this.count - 1]! >= targetOffset || this.positions[this.count - 1]! >= position)) {
      this.count--;
    }
    // The file may hold entries past the new end: a prefix length alone would call it
    // clean, so mark it unknown and let the next persist rewrite (and cut) it.
    if (this.persistedBytes > this.count * OFFSET_INDEX_ENTRY_SIZE) this.persistedBytes = -1;
  }

  toBytes(): Buffer {
    const out = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      out.writeInt32BE(this.relOffsets[i]!, i * 8);
      out.writeInt32BE(this.positions[i]!, i * 8 + 4);
    }
    return out;
  }

  isDirty(): boolean {
    return this.persistedBytes !== this.count * OFFSET_INDEX_ENTRY_SIZE;
  }

  /** Writes the file so that it equals the in-memory index; fsyncs when asked. */
  persist(file: string, fsync: boolean): void {
    if (!this.isDirty() && !fsync) return;
    this.persistedBytes = persistIndexFile(file, this.toBytes(), this.persistedBytes, fsync);
  }

  /** persist(file, true) with the fsync off the event loop. */
  async persistDurably(file: string): Promise<void> {
    this.persistedBytes = await persistIndexFileDurably(file, this.toBytes(), this.persistedBytes);
  }

  /** Marks the file as unknown, so the next persist rewrites it whole. */
  forgetFile(): void {
    this.persistedBytes = -1;
  }
}
