/**
 * Reading record timestamps inside a batch, for ListOffsets by time. Records (v2) follow
 * the 61-byte batch header, possibly compressed as one block:
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | ...
 *
 * (all varints zig-zag encoded). Only the first three fields are read; `length` skips the
 * rest. With LogAppendTime every record's timestamp is the batch's maxTimestamp.
 * Decompression is a hook because codecs belong to @tributary/protocol; gzip works without it.
 */
import zlib from 'node:zlib';
import { BatchAttributes, BatchLayout, readInt64 } from '@tributary/protocol';

/** Decompresses a record block of a batch; return null for a codec you cannot read. */
export type Decompressor = (compression: number, data: Buffer) => Buffer | null;

export const defaultDecompressor: Decompressor = (compression, data) => {
  if (compression === 1) return zlib.gunzipSync(data);
  return null;
};

export interface RecordTimestamp { offset: number; timestamp: number }

/** Reads a zig-zag varint (up to 64 bits, exact within 2^53); null on truncated or oversize input. */
function readVarlong(buf: Buffer, state: { at: number }): number | null {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 10; i++) {
    if (state.at >= buf.length) return null;
    const b = buf[state.at++]!;
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) {
      // zig-zag: even -> value/2, odd -> -(value+1)/2
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    multiplier *= 128;
    if (multiplier > 2 ** 56) return null;
  }
  return null;
}

/**
 * Calls `visit` with each record's offset and timestamp in order until it returns true;
 * returns that record, or null when none matched. Returns undefined when the records
 * cannot be read (unknown codec, malformed bytes) so the caller falls back to batch level.
 */
export function findRecord(
  batch: Buffer,
  visit: (r: RecordTimestamp) => boolean,
  decompress: Decompressor = defaultDecompressor,
): RecordTimestamp | null | undefined {
  const baseOffset = readInt64(batch, BatchLayout.BASE_OFFSET);
  const attributes = batch.readInt16BE(BatchLayout.ATTRIBUTES);
  const baseTimestamp = readInt64(batch, BatchLayout.BASE_TIMESTAMP);
  const maxTimestamp = readInt64(batch, BatchLayout.MAX_TIMESTAMP);
  const count = batch.readInt32BE(BatchLayout.RECORD_COUNT);
  const logAppendTime = (attributes & BatchAttributes.TIMESTAMP_TYPE_LOG_APPEND) !== 0;
  const compression = attributes & BatchAttributes.COMPRESSION_MASK;
  let records: Buffer = batch.subarray(BatchLayout.RECORDS);
  if (compression !== 0) {
    let out: Buffer | null;
    try {
      out = decompress(compression, records);
    } catch {
      return undefined;
    }
    if (out === null) return undefined;
    records = out;
  }
  const state = { at: 0 };
  for (let i = 0; i < count; i++) {
    const length = readVarlong(records, state);
    if (length === null || length < 0) return undefined;
    const end = state.at + length;
    if (end > records.length) return undefined;
    state.at += 1; // attributes
    const tsDelta = readVarlong(records, state);
    const offsetDelta = readVarlong(records, state);
    if (tsDelta === null || offsetDelta === null || state.at > end) return undefined;
    const r = { offset: baseOffset + offsetDelta, timestamp: logAppendTime ? maxTimestamp : baseTimestamp + tsDelta };
    if (visit(r)) return r;
    state.at = end;
  }
  return null;
}
