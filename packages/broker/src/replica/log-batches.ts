/**
 * Reading a partition's batches back from its log, for the state the broker rebuilds at
 * start-up (idempotent producer state, `__consumer_offsets`): whole batches from `from`
 * to the log end offset, `chunkBytes` at a time, so memory stays bounded however long the
 * log is.
 */
import { forEachBatch } from '@tributary/protocol';
import type { Log } from '@tributary/storage';

/**
 * Calls `visit(buf, at, size, readFrom)` for every batch from `from` on; `readFrom` is the
 * offset the read that returned it started at (the first batch may hold records below it).
 */
export function forEachLogBatch(log: Log, from: number, chunkBytes: number, visit: (buf: Buffer, at: number, size: number, readFrom: number) => void): void {
  let offset = from;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, chunkBytes, { minOneBatch: true, maxOffset: log.logEndOffset });
    if (read.kind !== 'ok' || read.records.length === 0) break;
    for (const buf of read.records) forEachBatch(buf, (at, size) => visit(buf, at, size, offset));
    if (read.nextFetchOffset <= offset) break;
    offset = read.nextFetchOffset;
  }
}
