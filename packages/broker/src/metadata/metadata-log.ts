/**
 * The local metadata log file, `<data dir>/__cluster_metadata/metadata.log`: an
 * append-only sequence of JSON records, one per line, each guarded by a checksum.
 *
 *   line := crc ' ' json '\n'
 *   crc  := 8 lowercase hex digits, CRC-32 (zlib/IEEE) of the UTF-8 bytes of json
 *   json := one record object with a "type" field (see local-metadata-store.ts)
 *
 * Why this shape: metadata changes are rare and small, so human-readable lines cost
 * nothing and make a broken cluster debuggable with `cat`. The checksum tells a torn
 * tail (a crash in the middle of a write) from a complete record.
 *
 * Durability: each append is written and fdatasynced before it returns; the caller
 * acknowledges a change only after that. Synchronous I/O is deliberate: appends are rare,
 * ~0.25 ms at p50 on this class of machine, and doing them synchronously makes every
 * change atomic with respect to the event loop (no interleaving of two writers).
 *
 * Recovery (`readMetadataLog`): records are read up to the first line that is incomplete
 * or fails its checksum. If nothing valid follows, that is a torn tail from a crash: it is
 * cut off (the write was never acknowledged). If valid records follow, the file was
 * damaged in the middle, which a crash cannot cause, so start-up fails rather than
 * silently dropping acknowledged changes.
 *
 * Compaction (`MetadataLogWriter.rewrite`, through storage's `writeFileDurably`): the whole state is written as a snapshot record to a
 * temporary file, fsynced, renamed over the log and the directory fsynced, so a crash
 * leaves either the old log or the new one.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MetadataError } from './metadata-store.js';
import { writeFileDurably } from '@tributary/storage';

export const METADATA_DIR = '__cluster_metadata';
export const METADATA_LOG_FILE = 'metadata.log';

export interface MetadataRecord {
  readonly type: string;
  readonly [field: string]: unknown;
}

export function encodeMetadataRecord(record: MetadataRecord): string {
  const json = JSON.stringify(record);
  const crc = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0');
  return `${crc} ${json}\n`;
}

export interface MetadataLogContents {
  readonly records: MetadataRecord[];
  /** Bytes of valid records; the file is cut to this length when it was longer. */
  readonly validBytes: number;
  /** Bytes of torn tail that were found (0 on a clean file). */
  readonly tornBytes: number;
}

/** Parses one line (without its '\n'); null when it is torn or fails its checksum. */
function decodeLine(line: string): MetadataRecord | null {
  if (line.length < 10 || line[8] !== ' ') return null;
  const crcText = line.slice(0, 8);
  if (!/^[0-9a-f]{8}$/.test(crcText)) return null;
  const json = line.slice(9);
  if (crc32(Buffer.from(json, 'utf8')) !== parseInt(crcText, 16)) return null;
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') return null;
    return value as MetadataRecord;
  } catch {
    return null;
  }
}

export function readMetadataLog(path: string): MetadataLogContents {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0, tornBytes: 0 };
    throw err;
  }
  const records: MetadataRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const newline = data.indexOf(0x0a, pos);
    const record = newline === -1 ? null : decodeLine(data.toString('utf8', pos, newline));
    if (record === null) {
      // Anything valid after this point means damage in the middle, not a torn tail.
      const rest = newline === -1 ? '' : data.toString('utf8', newline + 1);
      const laterValid = rest.split('\n').some((line) => line !== '' && decodeLine(line) !== null);
      if (laterValid) {
        throw new MetadataError('TRIB_ERR_METADATA_LOG_CORRUPT',
          `Metadata log ${path} is corrupt at byte ${pos} (record ${records.length + 1}) and has valid records after it; ` +
          'refusing to start rather than drop acknowledged metadata changes. Restore the file from a backup or a peer.');
      }
      return { records, validBytes: pos, tornBytes: data.length - pos };
    }
    records.push(record);
    pos = newline + 1;
  }
  return { records, validBytes: pos, tornBytes: 0 };
}

/** An open metadata log: appends are durable when `append` returns. */
export class MetadataLogWriter {
  private fd: number;
  private bytes: number;

  private constructor(private readonly path: string, fd: number, bytes: number) {
    this.fd = fd;
    this.bytes = bytes;
  }

  /** Opens for appending, first cutting off a torn tail of `validBytes`. */
  static open(path: string, validBytes: number): MetadataLogWriter {
    mkdirSync(join(path, '..'), { recursive: true });
    const fd = openSync(path, 'a+');
    const size = fstatSync(fd).size;
    if (size > validBytes) {
      ftruncateSync(fd, validBytes);
      fdatasyncSync(fd);
    }
    return new MetadataLogWriter(path, fd, validBytes);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  append(records: readonly MetadataRecord[]): void {
    if (this.fd < 0) throw new MetadataError('TRIB_ERR_METADATA_CLOSED', `Metadata log ${this.path} is closed`);
    const text = Buffer.from(records.map(encodeMetadataRecord).join(''), 'utf8');
    let written = 0;
    while (written < text.length) written += writeSync(this.fd, text, written, text.length - written);
    fdatasyncSync(this.fd);
    this.bytes += text.length;
  }

  /** Replaces the whole log with `records` atomically (temp file, fsync, rename). */
  rewrite(records: readonly MetadataRecord[]): void {
    const text = Buffer.from(records.map(encodeMetadataRecord).join(''), 'utf8');
    writeFileDurably(this.path, text);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.bytes = text.length;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
