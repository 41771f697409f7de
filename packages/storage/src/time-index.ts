/**
 * Sparse time index of one segment (`.timeindex`), Kafka's layout: entries of 12 bytes,
 *
 *   0  timestamp      int64   largest record timestamp in the segment so far
 *   8  relativeOffset int32   offset - segment baseOffset of the batch that reached it
 *
 * Entries are added alongside offset index entries, only when the largest timestamp grew,
 * so both columns increase. A lookup for time T starts the scan at the last entry whose
 * timestamp is below T: every record before that entry's offset is older than T.
 */
import { readInt64, writeInt64 } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';
import { SparseIndex, grow } from './index-file.js';

export const TIME_INDEX_ENTRY_SIZE = 12;

export interface TimestampOffset { timestamp: number; offset: number }

export class TimeIndex extends SparseIndex {
  private timestamps = new Float64Array(0);
  private relOffsets = new Int32Array(0);

  constructor(baseOffset: number, maxIndexBytes: number) {
    super(baseOffset, maxIndexBytes, TIME_INDEX_ENTRY_SIZE);
  }

  static fromBytes(bytes: Buffer, baseOffset: number, maxIndexBytes: number): TimeIndex | string {
    const index = new TimeIndex(baseOffset, maxIndexBytes);
    const sizeError = index.sizeError(bytes);
    if (sizeError !== null) return sizeError;
    const n = bytes.length / TIME_INDEX_ENTRY_SIZE;
    for (let i = 0; i < n; i++) {
      const ts = readInt64(bytes, i * 12);
      const rel = bytes.readInt32BE(i * 12 + 8);
      const last = index.lastEntry();
      if (rel < 0 || ts < 0 || (last !== null && (ts <= last.timestamp || baseOffset + rel < last.offset))) {
        return `entry ${i} (timestamp ${ts}, relative offset ${rel}) is out of order`;
      }
      index.maybeAppend(ts, baseOffset + rel);
    }
    index.persistedBytes = bytes.length;
    return index;
  }

  lastEntry(): TimestampOffset | null {
    if (this.count === 0) return null;
    return { timestamp: this.timestamps[this.count - 1]!, offset: this.baseOffset + this.relOffsets[this.count - 1]! };
  }

  /** Adds an entry when the timestamp grew and the offset did not go back; `force` ignores fullness (roll, close). */
  maybeAppend(timestamp: number, offset: number, force = false): void {
    // Kafka never indexes "no timestamp" (-1): an empty index already implies it.
    if (timestamp < 0 || (this.isFull() && !force)) return;
    const last = this.lastEntry();
    if (last !== null && (timestamp <= last.timestamp || offset < last.offset)) return;
    this.timestamps = grow(this.timestamps, this.count + 1, (n) => new Float64Array(n));
    this.relOffsets = grow(this.relOffsets, this.count + 1, (n) => new Int32Array(n));
    this.timestamps[this.count] = timestamp;
    this.relOffsets[this.count] = offset - this.baseOffset;
    this.count++;
  }

  /** Offset to start scanning from for the first record with timestamp >= target. */
  lookupBefore(target: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.relOffsets[found]!;
  }

  truncate(targetOffset: number): void {
    while (this.count > 0 && this.baseOffset + this.relOffsets[this.count - 1]! >= targetOffset) this.count--;
    this.afterTruncate();
  }

  toBytes(): Buffer {
    const out = Buffer.allocUnsafe(this.count * TIME_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      writeInt64(out, i * 12, this.timestamps[i]!);
      out.writeInt32BE(this.relOffsets[i]!, i * 12 + 8);
    }
    return out;
  }
}
