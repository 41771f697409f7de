import { compress } from '../compression/codec.js';
import { BatchAttributes, BatchLayout, type CompressionType } from './batch-layout.js';
import { computeBatchCrc } from './batch-header.js';

/**
 * The broker's recompression of a validated batch into a topic's `compression.type`
 * (Kafka's LogValidator.buildRecordsAndAssignOffsets, for the one-batch-per-partition case
 * of produce v3+): the header is kept (producer id, epoch, sequence, transactional flag,
 * timestamps, counts), its codec bits and length are replaced, the records section is
 * compressed (or stored as is, for `uncompressed`) and the CRC is computed again. Offsets,
 * the partition leader epoch and LogAppendTime are patched afterwards by the append, as for
 * any batch.
 *
 * `records` is the batch's records section, uncompressed: a slice of the batch when it came
 * uncompressed, else what validation decompressed. The records are reused byte for byte:
 * a producer's batch has offset deltas 0..n-1 (validation insists), so only the framing
 * around them changes. Kafka re-encodes every record and sets baseTimestamp to the first
 * record's timestamp; producers already do both, so consumers see the same records.
 *
 * gzip and zstd run on libuv's thread pool; snappy and lz4 run on the calling thread
 * (about 1.5-3 ms per MiB, see docs/benchmarks.md).
 */
export async function recompressBatch(batch: Buffer, offset: number, records: Buffer, compression: CompressionType): Promise<Buffer> {
  const payload = await compress(compression, records);
  const size = BatchLayout.HEADER_SIZE + payload.length;
  const out = Buffer.allocUnsafe(size);
  batch.copy(out, 0, offset, offset + BatchLayout.HEADER_SIZE);
  payload.copy(out, BatchLayout.HEADER_SIZE);
  out.writeInt32BE(size - BatchLayout.LOG_OVERHEAD, BatchLayout.BATCH_LENGTH);
  const attributes = out.readInt16BE(BatchLayout.ATTRIBUTES);
  out.writeInt16BE((attributes & ~BatchAttributes.COMPRESSION_MASK) | compression, BatchLayout.ATTRIBUTES);
  out.writeUInt32BE(computeBatchCrc(out, 0, size), BatchLayout.CRC);
  return out;
}
