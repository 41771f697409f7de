/**
 * Producer-state snapshot files, `<offset>.snapshot` in the partition directory: the state
 * of every producer after all batches below `offset` (Kafka's ProducerSnapshot, version 1,
 * the same bytes Kafka writes, so its tools can read them):
 *
 *   version int16 (1) | crc uint32 | count int32 | count x entry
 *   entry (46 bytes): producerId int64 | epoch int16 | lastSequence int32 | lastOffset int64 |
 *                     offsetDelta int32 | timestamp int64 | coordinatorEpoch int32 |
 *                     currentTxnFirstOffset int64
 *
 * The CRC-32C covers everything after the crc field. Only each producer's last batch is
 * kept (as in Kafka): duplicates of older batches are not detected right after a reload,
 * and the replay of the log after the snapshot refills the five retained batches.
 *
 * A snapshot is written in place without an fsync when a segment rolls (Kafka also leaves
 * its fsync to a background flush) and fsynced at clean shutdown. A torn or corrupt file
 * fails its CRC at load; it is then deleted and the next older snapshot used, with a longer
 * replay of the log.
 */
import { constants } from 'node:fs';
import path from 'node:path';
import { crc32c, readInt64 } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { offsetFileName } from './file-names.js';

export const SNAPSHOT_FILE_SUFFIX = '.snapshot';
const SNAPSHOT_VERSION = 1;
const CRC_AT = 2;
const ENTRIES_AT = 6;
const ENTRY_SIZE = 46;
const SNAPSHOT_FILE_RE = /^(\d{20})\.snapshot$/;

export interface SnapshotEntry {
  producerId: number;
  epoch: number;
  lastSequence: number;
  lastOffset: number;
  offsetDelta: number;
  timestamp: number;
  coordinatorEpoch: number;
  currentTxnFirstOffset: number;
}

export function snapshotFileOf(dir: string, offset: number): string {
  return path.join(dir, offsetFileName(offset, SNAPSHOT_FILE_SUFFIX));
}

/** The offset of a snapshot file name, or null when the name is not one. */
export function parseSnapshotFileName(name: string): number | null {
  const m = SNAPSHOT_FILE_RE.exec(name);
  if (m === null) return null;
  const offset = Number(m[1]);
  return Number.isSafeInteger(offset) ? offset : null;
}

export function encodeSnapshot(entries: readonly SnapshotEntry[]): Buffer {
  const buf = Buffer.allocUnsafe(ENTRIES_AT + 4 + entries.length * ENTRY_SIZE);
  buf.writeInt16BE(SNAPSHOT_VERSION, 0);
  buf.writeInt32BE(entries.length, ENTRIES_AT);
  let at = ENTRIES_AT + 4;
  for (const e of entries) {
    buf.writeBigInt64BE(BigInt(e.producerId), at);
    buf.writeInt16BE(e.epoch, at + 8);
    buf.writeInt32BE(e.lastSequence, at + 10);
    buf.writeBigInt64BE(BigInt(e.lastOffset), at + 14);
    buf.writeInt32BE(e.offsetDelta, at + 22);
    buf.writeBigInt64BE(BigInt(e.timestamp), at + 26);
    buf.writeInt32BE(e.coordinatorEpoch, at + 34);
    buf.writeBigInt64BE(BigInt(e.currentTxnFirstOffset), at + 38);
    at += ENTRY_SIZE;
  }
  buf.writeUInt32BE(crc32c(buf.subarray(ENTRIES_AT)), CRC_AT);
  return buf;
}

/** The entries, or null when the bytes are not a valid snapshot (version, CRC, size). */
export function decodeSnapshot(buf: Buffer): SnapshotEntry[] | null {
  if (buf.length < ENTRIES_AT + 4) return null;
  if (buf.readInt16BE(0) !== SNAPSHOT_VERSION) return null;
  if (buf.readUInt32BE(CRC_AT) !== crc32c(buf.subarray(ENTRIES_AT))) return null;
  const count = buf.readInt32BE(ENTRIES_AT);
  if (count < 0 || buf.length !== ENTRIES_AT + 4 + count * ENTRY_SIZE) return null;
  const entries: SnapshotEntry[] = [];
  let at = ENTRIES_AT + 4;
  // int64 fields as two int32 halves (readInt64): exact up to 2^53 like the numbers they
  // become, without a BigInt per field (a start-up reads one snapshot per partition).
  for (let i = 0; i < count; i++) {
    entries.push({
      producerId: readInt64(buf, at),
      epoch: buf.readInt16BE(at + 8),
      lastSequence: buf.readInt32BE(at + 10),
      lastOffset: readInt64(buf, at + 14),
      offsetDelta: buf.readInt32BE(at + 22),
      timestamp: readInt64(buf, at + 26),
      coordinatorEpoch: buf.readInt32BE(at + 34),
      currentTxnFirstOffset: readInt64(buf, at + 38),
    });
    at += ENTRY_SIZE;
  }
  return entries;
}

export function writeSnapshotFile(fs: FileSystem, dir: string, offset: number, entries: readonly SnapshotEntry[]): string {
  const file = snapshotFileOf(dir, offset);
  const bytes = encodeSnapshot(entries);
  const fd = fs.openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  try {
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/**
 * Snapshots up to this size (1,400 producers) are read into one shared buffer with a
 * single read: a start-up reads one per partition, and readFileSync's stat and fresh
 * buffer per file were a quarter of the producer-state load. Larger ones are read whole.
 */
const SNAPSHOT_READ_BYTES = 64 * 1024;
const readScratch = Buffer.allocUnsafeSlow(SNAPSHOT_READ_BYTES);

/** The entries of a snapshot file, or null when it is missing or invalid. */
export function readSnapshotFile(fs: FileSystem, file: string): SnapshotEntry[] | null {
  let fd: number;
  try {
    fd = fs.openSync(file, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let bytes: Buffer;
  try {
    let length = 0;
    for (let n = -1; n !== 0 && length < SNAPSHOT_READ_BYTES; length += n) n = fs.readSync(fd, readScratch, length, SNAPSHOT_READ_BYTES - length, length);
    bytes = length < SNAPSHOT_READ_BYTES ? readScratch.subarray(0, length) : fs.readFileSync(file);
  } finally {
    fs.closeSync(fd);
  }
  // decodeSnapshot copies every field out, so the shared buffer is free again on return.
  return decodeSnapshot(bytes);
}

export function deleteSnapshotFile(fs: FileSystem, dir: string, offset: number): void {
  fs.rmSync(snapshotFileOf(dir, offset), { force: true });
}
