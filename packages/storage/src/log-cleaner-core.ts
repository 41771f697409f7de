/**
 * One clean of one log, Kafka's Cleaner.doClean: everything here reads and writes files
 * only, holds no reference to the live Log, and runs in a worker thread
 * (log-cleaner-worker.ts) so that decompressing, hashing and recompressing never block the
 * broker's event loop. The main thread (log-cleaner.ts) chose the log and the range, and
 * afterwards swaps the written segments in (Log.replaceCleanedSegments).
 *
 *  1. One pass over the cleanable segments: transactions from the batch headers (see
 *     "Transactions" below) and, over the dirty section [firstDirtyOffset, end of the
 *     cleanable segments), the offset map key -> latest offset (log-cleaner-offset-map.ts),
 *     control batches and aborted data left out. When the map fills, the dirty section
 *     ends after the last batch that fit (`endOffset`).
 *  2. The cleanable segments below `endOffset` are grouped (sum of sizes <= segment.bytes,
 *     offsets within int32 of the group's first base offset: Kafka's groupSegmentsBySize),
 *     and each group is rewritten into one `<base>.log.cleaned` (+ indexes), fsynced. A
 *     record is kept unless (Kafka's shouldRetainRecord):
 *       - it has no key (a compacted topic refuses them at produce; older data may hold some);
 *       - the map holds a later offset for its key;
 *       - it is a tombstone (null value) whose batch's delete horizon has passed.
 *     A batch holding tombstones (or a control batch) that has no delete horizon yet gets
 *     one, now + delete.retention.ms (KIP-534: attribute bit 6, baseTimestamp = horizon,
 *     record timestamps unchanged), so a tombstone lives at least delete.retention.ms after
 *     the clean that first saw it, and so after it was written.
 *  3. Batches are kept byte for byte when all their records stay (and no horizon is to be
 *     set); otherwise rebuilt with the kept records at their own offsets, the same codec,
 *     producer id/epoch, base sequence, leader epoch and last offset (Kafka keeps a
 *     batch's last offset so producer sequences stay checkable). A batch left without
 *     records is dropped, except the last batch of an idempotent producer, kept empty so its
 *     sequence survives a rebuild of the producer state (Kafka's retainLastBatchSequence).
 *
 * Transactions (found from the batches themselves: this log has no .txnindex yet): nothing
 * at or after the first transaction still open at the end of the cleanable segments is
 * cleaned (Kafka's first unstable offset); data batches of aborted transactions are left
 * out of the offset map and removed; control batches (markers) stay until their delete
 * horizon has passed and no transactional data of their producer is kept before them since
 * its previous marker (Kafka's rule for removing a marker once its transaction's data is
 * cleaned away). An aborted batch that is its producer's last keeps its (emptied) place, so
 * the sequence survives. The cleaned segment takes over the old segments' aborted-transaction
 * index entries. The cleaner never reaches past the log's last stable offset either
 * (log-cleaner.ts), so an open transaction can never hide an older record of its keys.
 *
 * Cost (issue #18: the cleaner shares the machine with the request path): every cleanable
 * byte is read twice per clean, once per pass, in 1 MiB sequential reads into one reused
 * buffer (log-cleaner-read.ts); records are walked in place for their key and offset, keys
 * hashed with an allocation-free MD5 (log-cleaner-md5.ts); a batch's CRC is checked once,
 * in the first pass (dirty batches) or the second (the clean section); only a batch that
 * keeps some but not all of its records is decoded in full and rebuilt.
 * bench/micro/cleaner.ts measures the CPU per MiB cleaned.
 */
import { constants } from 'node:fs';
import path from 'node:path';
import {
  CompressionType,
  ControlRecordType,
  INT32_MAX,
  RecordBatchDefaults,
  TimestampType,
  decodeBatch,
  decodeBatchSync,
  decodeControlRecordKey,
  encodeBatch,
  splitBatches,
} from '@tributary/protocol';
import type { DecodedBatch, RecordBatchHeader, RecordInput } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { CLEANED_FILE_SUFFIX, LOG_FILE_SUFFIX, offsetFileName } from './file-names.js';
import { md5Into } from './log-cleaner-md5.js';
import { OffsetMap } from './log-cleaner-offset-map.js';
import { RecordKeys, SegmentReader, checkCrc, recordsSection } from './log-cleaner-read.js';
import { LogSegment } from './log-segment.js';
import { TXN_INDEX_FILE_SUFFIX, TxnIndex } from './txn-index.js';

/** Cleaned batches are written to the new segment in runs of about this many bytes. */
const WRITE_RUN_BYTES = 1024 * 1024;

export interface CleanerSegmentRef {
  baseOffset: number;
  /** Valid bytes of the .log file when the task was made (the file may be longer: torn tail). */
  size: number;
}

export interface CleanTask {
  /** The partition directory. */
  dir: string;
  topicPartition: string;
  /** The cleanable segments, in order: every segment wholly below the first uncleanable offset. */
  segments: CleanerSegmentRef[];
  /** Base offset of the first segment not cleanable (the end of the last cleanable one). */
  segmentsEndOffset: number;
  /** Where the dirty section starts (the cleaner checkpoint, at least the log start offset). */
  firstDirtyOffset: number;
  nowMs: number;
  deleteRetentionMs: number;
  /** segment.bytes: the bound on a group's total size. */
  segmentBytes: number;
  indexIntervalBytes: number;
  maxIndexBytes: number;
  /** This thread's share of log.cleaner.dedupe.buffer.size. */
  offsetMapBytes: number;
  /** This thread's share of log.cleaner.io.max.bytes.per.second (Infinity: no throttle). */
  ioMaxBytesPerSecond: number;
}

export interface CleanedGroup {
  /** Base offsets of the segments the cleaned one replaces, in order; the first is its base offset. */
  oldBaseOffsets: number[];
  oldSizes: number[];
  /** Bytes of the `.cleaned` segment. */
  size: number;
}

export interface CleanResult {
  groups: CleanedGroup[];
  /** The new first dirty offset: everything below it has been cleaned against a map. */
  endOffset: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsKept: number;
  mapEntries: number;
  /** Milliseconds the throttle slept. */
  throttledMs: number;
}

async function decode(bytes: Buffer, header: RecordBatchHeader): Promise<DecodedBatch> {
  return header.compression === CompressionType.ZSTD ? decodeBatch(bytes, 0) : decodeBatchSync(bytes, 0);
}

/** Kafka's Throttler: sleeps whenever the bytes done since the last check exceed the rate. */
class Throttler {
  private windowStart = performance.now();
  private windowBytes = 0;
  sleptMs = 0;
  constructor(private readonly bytesPerSecond: number) {}

  async maybeThrottle(bytes: number): Promise<void> {
    if (!Number.isFinite(this.bytesPerSecond)) return;
    this.windowBytes += bytes;
    const elapsedMs = performance.now() - this.windowStart;
    // Kafka checks every 300 ms; the same window keeps sleeps few and long enough to matter.
    if (elapsedMs < 300 && this.windowBytes < this.bytesPerSecond * 0.3) return;
    const dueMs = (this.windowBytes / this.bytesPerSecond) * 1000;
    if (dueMs > elapsedMs) {
      await new Promise((resolve) => setTimeout(resolve, dueMs - elapsedMs));
      this.sleptMs += dueMs - elapsedMs;
    }
    this.windowStart = performance.now();
    this.windowBytes = 0;
  }
}

function segmentFile(dir: string, baseOffset: number): string {
  return path.join(dir, offsetFileName(baseOffset, LOG_FILE_SUFFIX));
}

/** Per producer: MD5 words and offsets of its open transaction's keyed records, put in the map if it commits. */
interface PendingTxn {
  digests: number[];
  offsets: number[];
}

/** Runs one clean (see the top of this file). Throws on I/O errors and on damaged batches. */
export async function cleanLog(task: CleanTask, fs: FileSystem): Promise<CleanResult> {
  const throttler = new Throttler(task.ioMaxBytesPerSecond);
  const result: CleanResult = { groups: [], endOffset: task.firstDirtyOffset, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsKept: 0, mapEntries: 0, throttledMs: 0 };
  let pendingRead = 0;
  const reader = new SegmentReader(fs, (n) => {
    result.bytesRead += n;
    pendingRead += n;
  });
  const keys = new RecordKeys();
  const digest = new Int32Array(4);

  // 1. One pass over the cleanable segments: transactions and producers from the batch
  //    headers of all of them (markers decoded): the data batches of aborted transactions,
  //    the first transaction still open at the end (the first unstable offset: nothing from
  //    there on is cleaned, its outcome is unknown), each idempotent producer's last batch;
  //    and over the dirty section, the offset map. A transaction's keys wait beside the map
  //    until its marker: put in if it commits, dropped if it aborts (Kafka's buildOffsetMap
  //    leaves aborted data out); their room in the map is held meanwhile, so putting them
  //    never overfills it. In the rare case that mapping went past the first unstable
  //    offset (the log's last stable offset bounds the cleanable segments, so only a
  //    transaction the log's own state already counts as ended can be open here), the map
  //    is built again, stopping there.
  let lastBatchOfProducer = new Map<number, number>();
  let abortedBatches = new Set<number>();
  const scan = async (stopAt: number): Promise<{ map: OffsetMap; mapEnd: number; firstUnstableOffset: number }> => {
    lastBatchOfProducer = new Map();
    abortedBatches = new Set();
    const openTxnBatches = new Map<number, number[]>();
    const pending = new Map<number, PendingTxn>();
    let pendingEntries = 0;
    const map = new OffsetMap(task.offsetMapBytes);
    let mapEnd = task.firstDirtyOffset;
    let mapping = true;
    for (let i = 0; i < task.segments.length; i++) {
      const seg = task.segments[i]!;
      const next = task.segments[i + 1]?.baseOffset ?? task.segmentsEndOffset;
      const dirty = next > task.firstDirtyOffset;
      for (const { header, bytes } of reader.batches(segmentFile(task.dir, seg.baseOffset), seg.size)) {
        if (header.producerId >= 0) lastBatchOfProducer.set(header.producerId, header.lastOffset);
        if (header.isTransactional && !header.isControl) {
          const open = openTxnBatches.get(header.producerId);
          if (open === undefined) openTxnBatches.set(header.producerId, [header.baseOffset]);
          else open.push(header.baseOffset);
        } else if (header.isTransactional) {
          const ended = openTxnBatches.get(header.producerId);
          openTxnBatches.delete(header.producerId);
          const { records } = await decode(bytes, header);
          const type = records.length > 0 ? decodeControlRecordKey(records[0]!.key).type : -1;
          if (type === ControlRecordType.ABORT && ended !== undefined) for (const b of ended) abortedBatches.add(b);
          const txn = pending.get(header.producerId);
          if (txn !== undefined) {
            pending.delete(header.producerId);
            pendingEntries -= txn.offsets.length;
            if (type !== ControlRecordType.ABORT) {
              for (let k = 0; k < txn.offsets.length; k++) {
                for (let w = 0; w < 4; w++) digest[w] = txn.digests[4 * k + w]!;
                map.putDigest(digest, txn.offsets[k]!);
              }
            }
          }
        }
        if (!mapping || !dirty || header.lastOffset < task.firstDirtyOffset) continue;
        if (header.baseOffset >= stopAt) {
          mapping = false;
          continue;
        }
        if (!header.isControl) {
          if (map.size + pendingEntries + header.recordCount > map.maxEntries && map.size + pendingEntries > 0) {
            mapping = false;
            continue;
          }
          checkCrc(bytes, header);
          const section = recordsSection(bytes, header);
          keys.reset(section instanceof Promise ? await section : section, header.recordCount, header.baseOffset);
          if (header.isTransactional) {
            let txn = pending.get(header.producerId);
            if (txn === undefined) pending.set(header.producerId, (txn = { digests: [], offsets: [] }));
            while (keys.next()) {
              if (keys.keyStart < 0) continue;
              md5Into(keys.buf, keys.keyStart, keys.keyEnd, digest);
              txn.digests.push(digest[0]!, digest[1]!, digest[2]!, digest[3]!);
              txn.offsets.push(keys.offset);
              pendingEntries++;
            }
          } else {
            while (keys.next()) {
              if (keys.keyStart < 0) continue;
              md5Into(keys.buf, keys.keyStart, keys.keyEnd, digest);
              map.putDigest(digest, keys.offset);
            }
          }
        }
        mapEnd = header.lastOffset + 1;
      }
      await throttler.maybeThrottle(pendingRead);
      pendingRead = 0;
    }
    let firstUnstableOffset = Infinity;
    for (const open of openTxnBatches.values()) firstUnstableOffset = Math.min(firstUnstableOffset, open[0]!);
    return { map, mapEnd, firstUnstableOffset };
  };
  let { map, mapEnd, firstUnstableOffset } = await scan(Infinity);
  if (firstUnstableOffset < mapEnd) ({ map, mapEnd } = await scan(firstUnstableOffset));
  result.endOffset = Math.max(mapEnd, task.firstDirtyOffset);
  result.mapEntries = map.size;
  if (result.endOffset === task.firstDirtyOffset) {
    // Nothing dirty could be mapped (an open transaction starts at the first dirty offset).
    result.throttledMs = throttler.sleptMs;
    return result;
  }

  // 2. Groups of segments below the map's end, each rewritten into one `.cleaned` segment.
  const toClean = task.segments.filter((s) => s.baseOffset < result.endOffset);
  const deleteHorizonMs = task.nowMs + task.deleteRetentionMs;
  /** Per producer: transactional data kept since its last marker (a marker must then stay). */
  const txnDataKept = new Map<number, boolean>();
  /** Whether each record of the batch being cleaned stays (grown as batches need). */
  let keepFlags = new Uint8Array(1024);
  const run = Buffer.allocUnsafe(WRITE_RUN_BYTES);
  let runBytes = 0;
  for (const group of groupSegments(toClean, task.segmentBytes, task.segmentsEndOffset)) {
    const cleaned = LogSegment.create(task.dir, group[0]!.baseOffset, { indexIntervalBytes: task.indexIntervalBytes, maxIndexBytes: task.maxIndexBytes, fs }, task.nowMs, CLEANED_FILE_SUFFIX);
    const write = async (bytes: Buffer): Promise<void> => {
      if (bytes.length === 0) return;
      const headers = splitBatches(bytes);
      if (typeof headers === 'string') throw new Error(`cleaned batches of ${task.topicPartition} do not frame: ${headers}`);
      cleaned.append(bytes, headers);
      result.bytesWritten += bytes.length;
      await throttler.maybeThrottle(pendingRead + bytes.length);
      pendingRead = 0;
    };
    try {
      for (const seg of group) {
        for (const { header, bytes } of reader.batches(segmentFile(task.dir, seg.baseOffset), seg.size)) {
          const kept = await cleanBatch(header, bytes);
          if (kept === null) continue;
          // `bytes` is the reader's buffer, overwritten by the next read: kept batches are
          // copied into the run (or written at once when larger than a run).
          if (runBytes + kept.length > run.length) {
            await write(run.subarray(0, runBytes));
            runBytes = 0;
          }
          if (kept.length > run.length) await write(kept);
          else runBytes += kept.copy(run, runBytes);
        }
      }
      await write(run.subarray(0, runBytes));
      runBytes = 0;
      cleaned.finishIndexes();
      cleaned.persistIndexes(true);
      cleaned.flushLogSync();
      copyTxnIndexes(task.dir, group, cleaned, fs);
    } finally {
      cleaned.close();
    }
    result.groups.push({ oldBaseOffsets: group.map((s) => s.baseOffset), oldSizes: group.map((s) => s.size), size: cleaned.size });
  }
  result.throttledMs = throttler.sleptMs;
  return result;

  /** What of one batch is kept: the same bytes, rebuilt bytes, or nothing. */
  async function cleanBatch(header: RecordBatchHeader, bytes: Buffer): Promise<Buffer | null> {
    // Dirty data the map did not reach (it filled): kept as it is, cleaned next time.
    if (header.baseOffset >= result.endOffset) return bytes;
    const horizonPassed = header.hasDeleteHorizon && task.nowMs >= header.baseTimestamp;
    if (header.isControl) {
      const dataKept = txnDataKept.get(header.producerId) ?? false;
      txnDataKept.set(header.producerId, false);
      if (horizonPassed && !dataKept) return null;
      return header.hasDeleteHorizon ? bytes : rebuild(header, (await decode(bytes, header)).records, deleteHorizonMs);
    }
    // The clean section was not read by the first pass: its batches' CRCs are checked here.
    if (header.lastOffset < task.firstDirtyOffset) checkCrc(bytes, header);
    const section = recordsSection(bytes, header);
    keys.reset(section instanceof Promise ? await section : section, header.recordCount, header.baseOffset);
    if (keepFlags.length < header.recordCount) keepFlags = new Uint8Array(header.recordCount);
    const aborted = header.isTransactional && abortedBatches.has(header.baseOffset);
    let count = 0;
    let kept = 0;
    let tombstones = false;
    while (keys.next()) {
      const i = count++;
      keepFlags[i] = 0;
      if (keys.keyStart < 0 || aborted) continue;
      md5Into(keys.buf, keys.keyStart, keys.keyEnd, digest);
      const latest = map.getDigest(digest);
      if (latest >= 0 && keys.offset < latest) continue;
      if (keys.valueIsNull) {
        if (horizonPassed) continue;
        tombstones = true;
      }
      keepFlags[i] = 1;
      kept++;
    }
    result.recordsRead += count;
    result.recordsKept += kept;
    if (kept > 0 && header.isTransactional) txnDataKept.set(header.producerId, true);
    const setHorizon = tombstones && !header.hasDeleteHorizon;
    if (kept === count && !setHorizon) return bytes;
    if (kept === 0 && !(header.producerId >= 0 && lastBatchOfProducer.get(header.producerId) === header.lastOffset)) return null;
    // Some records go (or a horizon is set): decode in full and rebuild with those that stay.
    const { records } = await decode(bytes, header);
    const keep: RecordInput[] = [];
    for (let i = 0; i < records.length; i++) if (keepFlags[i] === 1) keep.push(records[i]!);
    return rebuild(header, keep, setHorizon ? deleteHorizonMs : header.hasDeleteHorizon ? header.baseTimestamp : undefined);
  }
}

/**
 * The old segments' aborted-transaction entries, into the cleaned segment's `.txnindex`
 * (fsynced, like the cleaned .log, before any swap): a read_committed Fetch over the cleaned
 * range still learns of aborted transactions whose batches were kept. Kafka keeps only the
 * entries of transactions with a batch left; an entry whose data is gone filters nothing,
 * so all are copied.
 */
function copyTxnIndexes(dir: string, group: readonly CleanerSegmentRef[], cleaned: LogSegment, fs: FileSystem): void {
  let copied = 0;
  for (const seg of group) {
    for (const entry of new TxnIndex(path.join(dir, offsetFileName(seg.baseOffset, TXN_INDEX_FILE_SUFFIX)), fs).all()) {
      cleaned.txnIndex.append(entry);
      copied++;
    }
  }
  if (copied === 0) return;
  const fd = fs.openSync(cleaned.txnIndexFile, constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A batch with only `records`, every other header field as in the original. */
async function rebuild(header: RecordBatchHeader, records: RecordInput[], deleteHorizonMs: number | undefined): Promise<Buffer> {
  const logAppendTime = header.timestampType === TimestampType.LOG_APPEND_TIME;
  const batch = await encodeBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    transactional: header.isTransactional,
    isControl: header.isControl,
    compression: header.compression as CompressionType,
    timestampType: header.timestampType,
    timestamp: header.maxTimestamp === RecordBatchDefaults.NO_TIMESTAMP ? header.baseTimestamp : header.maxTimestamp,
    lastOffsetDelta: header.lastOffsetDelta,
    ...(logAppendTime ? { logAppendTime: header.maxTimestamp } : {}),
    ...(deleteHorizonMs !== undefined ? { deleteHorizonMs } : {}),
    records: records.map((r) => ({ offset: r.offset!, timestamp: r.timestamp!, key: r.key ?? null, value: r.value ?? null, headers: r.headers ?? [] })),
  });
  return batch;
}

/**
 * Kafka's groupSegmentsBySize: consecutive segments whose sizes add up to at most
 * `maxBytes` and whose offsets stay within int32 of the group's base offset (the offset
 * index stores relative offsets). The next segment's base offset bounds the previous
 * one's last offset, so that check needs no read.
 */
export function groupSegments(segments: readonly CleanerSegmentRef[], maxBytes: number, endOffset: number): CleanerSegmentRef[][] {
  const groups: CleanerSegmentRef[][] = [];
  let i = 0;
  while (i < segments.length) {
    const group = [segments[i]!];
    let bytes = segments[i]!.size;
    i++;
    while (i < segments.length) {
      const next = segments[i]!;
      const end = (i + 1 < segments.length ? segments[i + 1]!.baseOffset : endOffset) - 1;
      if (bytes + next.size > maxBytes || end - group[0]!.baseOffset > INT32_MAX) break;
      group.push(next);
      bytes += next.size;
      i++;
    }
    groups.push(group);
  }
  return groups;
}
