/**
 * The aborted-transaction index of one segment, `<base>.txnindex` (Kafka's TransactionIndex):
 * one entry per ABORT marker written into the segment, in marker order. A read_committed
 * Fetch asks which aborted transactions overlap the data it returns, and the consumer drops
 * their records.
 *
 * Entry layout (Kafka's AbortedTxn, 34 bytes, big-endian):
 *
 *   version int16 (0) | producerId int64 | firstOffset int64 | lastOffset int64 | lastStableOffset int64
 *
 * firstOffset is the transaction's first data offset (possibly in an earlier segment),
 * lastOffset the offset of its ABORT marker, lastStableOffset the LSO right after the marker
 * was written: an entry whose lastStableOffset is at or past a fetch's upper bound means no
 * later segment can hold an aborted transaction overlapping that fetch.
 *
 * Entries are written with writeSync when the marker is appended (page cache: they survive
 * kill -9 like the data) and kept in memory once loaded; the file is small (one entry per
 * aborted transaction). A torn or corrupt tail (size not a multiple of 34, a bad version,
 * offsets out of order) is cut off at load; recovery of the segment re-adds what the log
 * still holds.
 */
import { constants } from 'node:fs';
import type { FileSystem } from './file-system.js';

export const TXN_INDEX_FILE_SUFFIX = '.txnindex';
export const ABORTED_TXN_SIZE = 34;
const ABORTED_TXN_VERSION = 0;

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  lastStableOffset: number;
}

export class TxnIndex {
  private file: string;
  private readonly fs: FileSystem;
  private entries: AbortedTxn[] | null = null;

  constructor(file: string, fs: FileSystem) {
    this.file = file;
    this.fs = fs;
  }

  get path(): string {
    return this.file;
  }

  /** The entries, loaded from the file on first use (a missing file is an empty index). */
  all(): readonly AbortedTxn[] {
    return this.load();
  }

  private load(): AbortedTxn[] {
    if (this.entries !== null) return this.entries;
    const entries: AbortedTxn[] = [];
    let bytes: Buffer;
    try {
      bytes = this.fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.entries = entries;
      return entries;
    }
    let at = 0;
    while (at + ABORTED_TXN_SIZE <= bytes.length) {
      const e = decodeAbortedTxn(bytes, at);
      const previous = entries[entries.length - 1];
      if (e === null || (previous !== undefined && e.lastOffset <= previous.lastOffset)) break;
      entries.push(e);
      at += ABORTED_TXN_SIZE;
    }
    if (at !== bytes.length) this.rewrite(entries);
    this.entries = entries;
    return entries;
  }

  /** Appends the entry of an ABORT marker; markers come in offset order. */
  append(txn: AbortedTxn): void {
    const entries = this.load();
    const previous = entries[entries.length - 1];
    // A replay after a crash meets markers the index may already hold: those are skipped.
    if (previous !== undefined && txn.lastOffset <= previous.lastOffset) return;
    const buf = Buffer.allocUnsafe(ABORTED_TXN_SIZE);
    encodeAbortedTxn(txn, buf, 0);
    const fd = this.fs.openSync(this.file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o644);
    try {
      this.fs.writeSync(fd, buf, 0, buf.length);
    } finally {
      this.fs.closeSync(fd);
    }
    entries.push({ ...txn });
  }

  /** Removes the entries of markers at or after `offset` (the log was truncated there). */
  truncateTo(offset: number): void {
    const entries = this.load();
    let keep = entries.length;
    while (keep > 0 && entries[keep - 1]!.lastOffset >= offset) keep--;
    if (keep === entries.length) return;
    entries.length = keep;
    this.rewrite(entries);
  }

  /**
   * Kafka's collectAbortedTxns: entries whose transaction overlaps [fetchOffset, upperBoundOffset).
   * `complete` when an entry's lastStableOffset reaches upperBoundOffset: later segments
   * cannot add to the answer.
   */
  collect(fetchOffset: number, upperBoundOffset: number, into: AbortedTxn[]): boolean {
    for (const e of this.load()) {
      if (e.lastOffset >= fetchOffset && e.firstOffset < upperBoundOffset) into.push(e);
      if (e.lastStableOffset >= upperBoundOffset) return true;
    }
    return false;
  }

  /** Follows its segment's files (`*.deleted` on deletion). */
  renameTo(file: string): void {
    try {
      this.fs.renameSync(this.file, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.file = file;
  }

  delete(): void {
    this.fs.rmSync(this.file, { force: true });
    this.entries = [];
  }

  private rewrite(entries: readonly AbortedTxn[]): void {
    if (entries.length === 0) {
      this.fs.rmSync(this.file, { force: true });
      return;
    }
    const fd = this.fs.openSync(this.file, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      this.fs.ftruncateSync(fd, entries.length * ABORTED_TXN_SIZE);
    } finally {
      this.fs.closeSync(fd);
    }
  }
}

export function encodeAbortedTxn(txn: AbortedTxn, buf: Buffer, at: number): void {
  buf.writeInt16BE(ABORTED_TXN_VERSION, at);
  buf.writeBigInt64BE(BigInt(txn.producerId), at + 2);
  buf.writeBigInt64BE(BigInt(txn.firstOffset), at + 10);
  buf.writeBigInt64BE(BigInt(txn.lastOffset), at + 18);
  buf.writeBigInt64BE(BigInt(txn.lastStableOffset), at + 26);
}

/** One entry, or null when it is not a valid one (torn or corrupt bytes). */
export function decodeAbortedTxn(buf: Buffer, at: number): AbortedTxn | null {
  if (buf.readInt16BE(at) !== ABORTED_TXN_VERSION) return null;
  const producerId = Number(buf.readBigInt64BE(at + 2));
  const firstOffset = Number(buf.readBigInt64BE(at + 10));
  const lastOffset = Number(buf.readBigInt64BE(at + 18));
  const lastStableOffset = Number(buf.readBigInt64BE(at + 26));
  if (firstOffset < 0 || lastOffset < firstOffset || lastStableOffset < 0) return null;
  return { producerId, firstOffset, lastOffset, lastStableOffset };
}
