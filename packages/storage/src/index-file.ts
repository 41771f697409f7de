/**
 * Shared file handling for the two sparse indexes. Index entries live in memory (they are
 * small: one per index.interval.bytes of log) and are written to the file on flush, roll
 * and close. An index file is therefore a possibly stale prefix of the in-memory index;
 * loading validates it and rebuilds from the log when it does not fit (see log-segment.ts).
 */
import { constants } from 'node:fs';
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';

/**
 * What both sparse indexes share: a bounded number of fixed-size entries held in memory,
 * and the bookkeeping of how much of the file already matches them. Subclasses own the
 * columns and the byte layout (`toBytes`).
 */
export abstract class SparseIndex {
  readonly baseOffset: number;
  readonly maxEntries: number;
  protected count = 0;
  /** Bytes at the start of the file known to equal the in-memory entries; -1 unknown. */
  protected persistedBytes = 0;

  constructor(baseOffset: number, maxIndexBytes: number, readonly entrySize: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.max(1, Math.floor(maxIndexBytes / entrySize));
  }

  /** Why file bytes cannot hold this index's entries, or null: a partial entry, or too many. */
  protected sizeError(bytes: Buffer): string | null {
    if (bytes.length % this.entrySize !== 0) return `size ${bytes.length} is not a multiple of ${this.entrySize}`;
    const n = bytes.length / this.entrySize;
    if (n > this.maxEntries) return `${n} entries exceed the maximum ${this.maxEntries}`;
    return null;
  }

  get entries(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  abstract toBytes(): Buffer;

  isDirty(): boolean {
    return this.persistedBytes !== this.count * this.entrySize;
  }

  /** Writes the file so that it equals the in-memory index; fsyncs when asked. */
  persist(file: string, fsync: boolean, fs: FileSystem = nodeFileSystem): void {
    if (!this.isDirty() && !fsync) return;
    this.persistedBytes = persistIndexFile(fs, file, this.toBytes(), this.persistedBytes, fsync);
  }

  /** persist(file, true) with the fsync off the event loop. */
  async persistDurably(file: string, fs: FileSystem = nodeFileSystem): Promise<void> {
    this.persistedBytes = await persistIndexFileDurably(fs, file, this.toBytes(), this.persistedBytes);
  }

  /** Marks the file as unknown, so the next persist rewrites it whole. */
  forgetFile(): void {
    this.persistedBytes = -1;
  }

  /** After entries were dropped: the file may hold entries past the new end. */
  protected afterTruncate(): void {
    // A prefix length alone would call such a file clean, so mark it unknown and let the
    // next persist rewrite (and cut) it.
    if (this.persistedBytes > this.count * this.entrySize) this.persistedBytes = -1;
  }
}

/** Reads a whole index file; null when it does not exist. */
export function readIndexFile(fs: FileSystem, file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Makes the file hold exactly `bytes`, writing only what changed since the last persist
 * (`validBytes`, the prefix known to match). Returns the new valid length.
 */
export function persistIndexFile(fs: FileSystem, file: string, bytes: Buffer, validBytes: number, fsync: boolean): number {
  const fd = writeIndexFile(fs, file, bytes, validBytes);
  try {
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return bytes.length;
}

/**
 * persistIndexFile with the fsync on libuv's threadpool, so that many index files (a
 * clean shutdown of thousands of partitions) are made durable concurrently.
 */
export async function persistIndexFileDurably(fs: FileSystem, file: string, bytes: Buffer, validBytes: number): Promise<number> {
  const fd = writeIndexFile(fs, file, bytes, validBytes);
  try {
    await fsyncAsync(fs, fd);
  } finally {
    fs.closeSync(fd);
  }
  return bytes.length;
}

/** Opens the file and makes it hold `bytes`; returns the open descriptor. */
function writeIndexFile(fs: FileSystem, file: string, bytes: Buffer, validBytes: number): number {
  const fd = fs.openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const from = Math.max(0, Math.min(validBytes, bytes.length));
    if (from < bytes.length) fs.writeSync(fd, bytes, from, bytes.length - from, from);
    if (fs.fstatSync(fd).size !== bytes.length) fs.ftruncateSync(fd, bytes.length);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** fsync (or fdatasync) of an open file on libuv's threadpool. */
export function fsyncAsync(fs: FileSystem, fd: number, dataOnly = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null): void => (err ? reject(err) : resolve());
    if (dataOnly) fs.fdatasync(fd, done);
    else fs.fsync(fd, done);
  });
}

/** A growable pair of columns; plain typed arrays keep lookups allocation-free. */
export function grow<T extends Int32Array | Float64Array>(arr: T, needed: number, make: (n: number) => T): T {
  if (needed <= arr.length) return arr;
  const next = make(Math.max(needed, arr.length * 2, 16));
  next.set(arr);
  return next;
}
