/**
 * How the cleaner reads (log-cleaner-core.ts): segment files in large sequential reads into
 * one buffer reused for the whole clean, and records walked in place for the two things a
 * clean needs of most of them, the key and the offset. A clean reads every cleanable byte
 * once per pass and builds no record objects for batches it keeps whole or drops whole,
 * which is nearly all of them; only a batch that keeps some of its records is decoded in
 * full and rebuilt.
 *
 *   record (magic 2; record-walk.ts has the full layout):
 *     length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *     keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *     headerCount varint | headers
 *
 * The bytes are untrusted (a damaged disk): every length is checked against what is left,
 * and a violation throws RecordBatchError, which fails the clean and marks the log
 * uncleanable (log-cleaner.ts), as Kafka does for a CorruptRecordException.
 */
import { constants } from 'node:fs';
import {
  BatchLayout,
  CompressionType,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  MIN_RECORD_SIZE,
  RecordReader,
  batchFrameSize,
  compressionFailure,
  computeBatchCrc,
  decompress,
  decompressSync,
  readBatchHeader,
} from '@tributary/protocol';
import type { RecordBatchHeader } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';

/** Bytes read from a segment file per read call (Kafka's log.cleaner.io.buffer.size is 512 KiB; fewer, larger sequential reads cost less CPU per byte). */
export const READ_CHUNK_BYTES = 1024 * 1024;

export interface BatchRef {
  header: RecordBatchHeader;
  /** The whole batch: a view of the reader's buffer, valid only until the next batch is asked for. */
  bytes: Buffer;
}

/**
 * Reads segment files batch by batch through one buffer of READ_CHUNK_BYTES (grown to hold
 * a larger batch whole), so a clean allocates no read buffers per chunk.
 */
export class SegmentReader {
  private buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);

  constructor(
    private readonly fs: FileSystem,
    private readonly onRead: (bytes: number) => void,
  ) {}

  /**
   * The batches of the first `size` bytes of `file`, whole and in order. Each batch's
   * bytes are overwritten by later reads: a caller that keeps them copies them.
   */
  *batches(file: string, size: number): Generator<BatchRef> {
    const fd = this.fs.openSync(file, constants.O_RDONLY);
    try {
      let pos = 0;
      // A batch cut by the end of a chunk moves to the buffer's start and the next read
      // continues after it, so every byte is read once.
      let carried = 0;
      while (pos < size) {
        const want = Math.min(this.buf.length, size - pos);
        const got = readFully(this.fs, fd, this.buf, carried, want - carried, pos + carried);
        if (got < want - carried) throw new Error(`${file}: ends at ${pos + carried + got}, before its ${size} bytes`);
        this.onRead(got);
        const end = carried + got;
        const chunk = this.buf;
        carried = 0;
        let at = 0;
        while (at < end) {
          const frame = batchFrameSize(chunk, at, end);
          if (typeof frame === 'string') {
            if (end - at >= BatchLayout.MAGIC + 1) throw new Error(`${file}: no batch at position ${pos + at}: ${frame}`);
            break;
          }
          if (at + frame > end) {
            if (pos + at + frame > size) throw new Error(`${file}: batch at position ${pos + at} is torn at ${size}`);
            if (frame > this.buf.length) this.buf = Buffer.allocUnsafe(frame);
            break;
          }
          const bytes = chunk.subarray(at, at + frame);
          yield { header: readBatchHeader(bytes, 0), bytes };
          at += frame;
        }
        if (at === 0 && end < BatchLayout.MAGIC + 1) throw new Error(`${file}: ${end} stray bytes at position ${pos}`);
        if (at < end) {
          chunk.copy(this.buf, 0, at, end);
          carried = end - at;
        }
        pos += at;
      }
    } finally {
      this.fs.closeSync(fd);
    }
  }
}

function readFully(fs: FileSystem, fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, offset + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Throws CRC_MISMATCH (as decodeBatch would) unless the batch's stored CRC-32C matches its bytes. */
export function checkCrc(bytes: Buffer, header: RecordBatchHeader): void {
  const crc = computeBatchCrc(bytes, 0, header.size);
  if (crc !== header.crc) throw new Error(`batch at offset ${header.baseOffset} has CRC ${header.crc} but its bytes give ${crc}`);
}

/** The batch's records section, decompressed (zstd only asynchronously, as everywhere in the broker). */
export function recordsSection(bytes: Buffer, header: RecordBatchHeader): Buffer | Promise<Buffer> {
  const section = bytes.subarray(BatchLayout.RECORDS, header.size);
  if (header.compression === CompressionType.NONE) return section;
  try {
    if (header.compression === CompressionType.ZSTD) {
      return decompress(header.compression, section, DEFAULT_MAX_DECOMPRESSED_BYTES).catch((err: unknown) => {
        throw compressionFailure(err, header.compression);
      });
    }
    return decompressSync(header.compression, section, DEFAULT_MAX_DECOMPRESSED_BYTES);
  } catch (err) {
    throw compressionFailure(err, header.compression);
  }
}

/**
 * Walks the records of a records section, one at a time, exposing each record's offset,
 * key (as a range of `buf`) and whether its value is null; one object per clean, nothing
 * allocated per record. Framing is checked as readRecords (record-codec.ts) checks it.
 */
export class RecordKeys {
  buf: Buffer = Buffer.alloc(0);
  private readonly reader = new RecordReader(this.buf, 0, 0);
  private sectionEnd = 0;
  private remaining = 0;
  private baseOffset = 0;
  /** The current record's absolute offset. */
  offset = 0;
  /** The current record's key: buf[keyStart, keyEnd), or keyStart = -1 for a null key. */
  keyStart = -1;
  keyEnd = -1;
  valueIsNull = false;

  /** Starts a walk over `count` records in `section` of a batch at `baseOffset`. */
  reset(section: Buffer, count: number, baseOffset: number): void {
    if (count < 0 || count > section.length / MIN_RECORD_SIZE) {
      this.reader.fail(`batch at offset ${baseOffset} declares ${count} records, impossible in its ${section.length} bytes`);
    }
    this.buf = section;
    this.reader.buf = section;
    this.reader.pos = 0;
    this.reader.end = section.length;
    this.sectionEnd = section.length;
    this.remaining = count;
    this.baseOffset = baseOffset;
  }

  /** Moves to the next record; false after the last (having checked the section ends there). */
  next(): boolean {
    const reader = this.reader;
    const end = this.sectionEnd;
    if (this.remaining === 0) {
      if (reader.pos !== end) reader.fail(`records end at byte ${reader.pos} but the records section ends at ${end}`);
      return false;
    }
    this.remaining--;
    const length = reader.varint();
    const bodyStart = reader.pos;
    if (length <= 0 || length > end - bodyStart) reader.fail(`record at byte ${bodyStart} declares ${length} bytes, ${end - bodyStart} remain`);
    reader.end = bodyStart + length;
    reader.pos += 1; // attributes
    reader.varlong(); // timestampDelta
    this.offset = this.baseOffset + reader.varint();
    const keyLength = reader.skipBytesField('key', true);
    this.keyStart = keyLength < 0 ? -1 : reader.pos - keyLength;
    this.keyEnd = keyLength < 0 ? -1 : reader.pos;
    this.valueIsNull = reader.skipBytesField('value', true) < 0;
    const headerCount = reader.varint();
    if (headerCount < 0 || headerCount > reader.end - reader.pos) reader.fail(`record declares ${headerCount} headers in ${reader.end - reader.pos} bytes`);
    for (let h = 0; h < headerCount; h++) {
      reader.skipBytesField('header key', false);
      reader.skipBytesField('header value', true);
    }
    if (reader.pos !== reader.end) reader.fail(`record declares ${length} bytes but its fields take ${reader.pos - bodyStart}`);
    reader.end = end;
    return true;
  }
}
