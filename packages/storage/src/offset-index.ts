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
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';
import { assertBelow } from '@tributary/protocol';
import { SparseIndex, grow } from './index-file.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;

export interface OffsetPosition { offset: number; position: number }

export class OffsetIndex extends SparseIndex {
  private relOffsets = new Int32Array(0);
  private positions = new Int32Array(0);

  constructor(baseOffset: number, maxIndexBytes: number) {
    super(baseOffset, maxIndexBytes, OFFSET_INDEX_ENTRY_SIZE);
  }

  /**
   * Builds an index from file bytes, or returns why they cannot be trusted: a size that is
   * not a whole number of entries, entries out of order, or positions past the log's end.
   */
  static fromBytes(bytes: Buffer, baseOffset: number, maxIndexBytes: number, logSize: number): OffsetIndex | string {
    const index = new OffsetIndex(baseOffset, maxIndexBytes);
    const sizeError = index.sizeError(bytes);
    if (sizeError !== null) return sizeError;
    const n = bytes.length / OFFSET_INDEX_ENTRY_SIZE;
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
    this.afterTruncate();
  }

  toBytes(): Buffer {
    const out = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      out.writeInt32BE(this.relOffsets[i]!, i * 8);
      out.writeInt32BE(this.positions[i]!, i * 8 + 4);
    }
    return out;
  }
}
